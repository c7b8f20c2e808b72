"""The command line: one-line errors for user mistakes, and the train/eval/sample/list commands."""

import json

import numpy as np
import pytest
import tensorflow_datasets as tfds

from genjax import cli, config as gconfig, train
from genjax.errors import ConfigError, DataError
from tests.conftest import tiny_fm_config

EXPERIMENT = "experiments/fm_moons.py"


def _error_line(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    assert err.startswith("genjax: error: ")
    return err


@pytest.mark.parametrize(
    "override, expected",
    [
        ("--config.train.stpes=5", ["train.stpes", "does not exist", "train.steps"]),
        ("--config.nonsense=5", ["nonsense", "does not exist"]),
        ("--config.train.steps=many", ["train.steps", "int", "many"]),
        ("--config.train.steps=1.5", ["train.steps", "int"]),
        ("--config.train.steps=0", ["train.steps", "integer >= 1"]),
        ("--config.train.lr=-1", ["train.lr", "> 0"]),
        ("--config.train.ema_decay=1.5", ["train.ema_decay", "[0, 1)"]),
        ("--config.train.schedule=exp", ["train.schedule", "cosine"]),
        ("--config.data.name=mnoons", ["data.name", "mnoons", "moons", "8gaussians"]),
        ("--config.model.name=gann", ["model.name", "gann", "flow_matching"]),
        ("--config.model.ode.solver=rk99", ["model.ode.solver", "tsit5"]),
        ("--config.model.solver=heun", ["model.solver", "not used", "did you mean 'model.ode.solver'"]),
        ("--config.sample.sampler=rk4@5", ["sample.sampler", "rk4@5", "not a sampler", "heun[@steps]"]),
        ("--config.eval.samplers=default,heun@0", ["eval.samplers", "heun@0", "positive integer"]),
        ("--config.eval.samplers=()", ["eval.samplers", "empty"]),
        ("--config.model.hidden=0,4", ["model.hidden", "positive"]),
        ("--config.model", ["model", "no value"]),
    ],
)
def test_config_errors_are_one_line(capsys, tmp_path, override, expected):
    err = _error_line(capsys, ["train", "--config", EXPERIMENT, "--workdir", str(tmp_path), override])
    for word in expected:
        assert word in err, (word, err)


def test_unknown_key_in_an_experiment_file_is_caught():
    c = tiny_fm_config()
    c.model.hiden = (8,)
    with pytest.raises(ConfigError, match=r"model\.hiden.*not used"):
        train.Trainer.from_config(c)


def test_override_parsing_keeps_types():
    c = gconfig.default_config()
    gconfig.apply_override(c, "train.steps", "2e3")
    gconfig.apply_override(c, "train.lr", "3e-4")
    gconfig.apply_override(c, "train.plot", "false")
    gconfig.apply_override(c, "eval.samplers", "euler@4,heun@2")
    assert c.train.steps == 2000 and isinstance(c.train.steps, int)
    assert c.train.lr == 3e-4 and c.train.plot is False
    assert c.eval.samplers == ("euler@4", "heun@2")


def test_wrong_data_shape_and_nan_data_are_clear_errors():
    from genjax import data

    ds = data.get_dataset("moons")
    with pytest.raises(DataError, match=r"\(B, 2\)"):
        data.check_batch({"x": np.zeros((4, 3), np.float32)}, ds)
    with pytest.raises(DataError, match="finite|NaN"):
        data.check_batch({"x": np.full((4, 2), np.nan, np.float32)}, ds)
    with pytest.raises(DataError, match="moons"):
        data.get_dataset("moon")


def test_train_eval_sample_list_end_to_end(capsys, tmp_path):
    work = tmp_path / "run"
    args = ["--workdir", str(work), "--config.train.steps=10", "--config.train.checkpoint_every=5",
            "--config.train.progress=false", "--config.model.hidden=16,16", "--config.eval.repeats=1",
            "--config.eval.num_samples=100", "--config.eval.samplers=euler@4", "--config.eval.mmd=false"]
    assert cli.main(["train", "--config", EXPERIMENT, *args]) == 0
    out = capsys.readouterr().out
    assert "final metrics at step 10" in out and "w2/euler@4" in out and "w2_floor" in out
    assert (work / "plots" / "samples_final.png").stat().st_size > 0
    # eval reads the config back from the workdir
    assert cli.main(["eval", "--workdir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "step 10" in out and "w2/euler@4" in out
    assert json.loads((work / "eval_10.json").read_text())["step"] == 10
    assert cli.main(["sample", "--workdir", str(work), "--config.sample.num=50", "--config.sample.sampler=heun@3"]) == 0
    capsys.readouterr()
    saved = np.load(work / "samples" / "samples_step10_heun-3.npy")
    assert saved.shape == (50, 2) and np.all(np.isfinite(saved))
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fm_moons" in out and "moons" in out and "flow_matching" in out


def test_eval_without_checkpoints_is_a_clear_error(capsys, tmp_path):
    err = _error_line(capsys, ["eval", "--config", EXPERIMENT, "--workdir", str(tmp_path / "missing")])
    assert "does not exist" in err
    (tmp_path / "empty").mkdir()
    err = _error_line(capsys, ["eval", "--config", EXPERIMENT, "--workdir", str(tmp_path / "empty")])
    assert "no checkpoints" in err


def test_one_training_step_on_mock_tfds_mnist(tmp_path):
    c = tiny_fm_config(steps=2, steps_per_dispatch=2, checkpoint_every=2, log_every=1)
    c.data.name = "mnist"
    c.data.batch_size = 8
    c.eval.num_samples = 16
    c.eval.batch_size = 16
    with tfds.testing.mock_data(num_examples=64):
        trainer = train.Trainer.from_config(c)  # an MLP on flattened pixels
        assert not trainer.dataset.in_memory
        state = trainer.init()
        before = _leaves(state.params)  # run() donates the state it is given
        state, metrics = trainer.run(state, 0, 2)
        assert int(state.step) == 2 and metrics["loss"].shape == (2,)
        assert np.all(np.isfinite(metrics["loss"]))
        changed = [not np.allclose(a, b) for a, b in zip(before, _leaves(state.params))]
        assert any(changed)


def _leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


# -- the newcomer's path ----------------------------------------------------------------------------


def test_command_help_shows_the_override_syntax(capsys):
    for command in ("train", "eval", "sample", "config"):
        with pytest.raises(SystemExit) as e:
            cli.main([command, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert f"usage: genjax {command}" in out and "--config.<key>=<value>" in out and "example" in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(c in out for c in cli.COMMANDS)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["sample", "--workdir", "runs/fm_moons", "--num", "2000"], "did you mean --config.sample.num=2000?"),
        (["train", "--config", EXPERIMENT, "--steps=50"], "did you mean --config.train.steps=50"),
        (["train", "--config", EXPERIMENT, "--frobnicate"], "unrecognized argument '--frobnicate'"),
        (["fly"], "invalid choice: 'fly'"),
        ([], "give a command"),
        (["eval"], "give --workdir DIR"),
    ],
)
def test_cli_mistakes_are_one_line_with_the_fix(capsys, argv, expected):
    assert expected in _error_line(capsys, argv)


def test_list_shows_only_runnable_experiments_with_whole_descriptions(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    experiments = cli.runnable_experiments()
    assert "fm_moons" in experiments and "nsf_toy" in experiments
    assert not {"flow_common", "fm_common", "reflow_rounds"} & set(experiments)
    for name, doc in experiments.items():
        assert doc and doc[-1] in ".)", (name, doc)  # a whole sentence, never cut mid-way
        assert f"{name:<26} {doc}" in out


def test_config_command_prints_every_key_with_its_value_and_meaning(capsys):
    assert cli.main(["config", "--config", EXPERIMENT, "--config.model.ode.solver=heun"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_key = {line.split()[0]: line for line in lines}
    assert "16000" in by_key["train.steps"] and "training steps" in by_key["train.steps"]
    assert "'heun'" in by_key["model.ode.solver"] and "one of" in by_key["model.ode.solver"]
    assert "(family default)" in by_key["model.coupling"]
    assert set(gconfig.all_keys(gconfig.default_config())) - {"model.name"} <= set(by_key)
