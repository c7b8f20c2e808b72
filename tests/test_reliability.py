"""Runs that go wrong: non-finite values, damaged or mismatched checkpoints, two writers, bad inputs.

Each failure mode is reproduced at tiny size and must end in a one-line error (exit code 2 from the
CLI), never in a saved NaN, a renamed good checkpoint, or a silent fresh start.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import cli, train
from genjax.errors import CheckpointError, ConfigError, NonFiniteError
from genjax.train.checkpoint import CHECKSUMS
from genjax.train.workdir import WorkdirLock
from tests.conftest import tiny_fm_config

REPO = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENT = str(REPO / "experiments" / "fm_moons.py")


def _one_line_error(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (code, err)
    assert len(err.splitlines()) == 1 and err.startswith("genjax: error:"), err
    return err


def _all_finite(tree) -> bool:
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(tree)
               if jnp.issubdtype(x.dtype, jnp.inexact))


def _step_dirs(ckpt: pathlib.Path) -> list[str]:
    return sorted(p.name for p in ckpt.iterdir()) if ckpt.exists() else []


# -- non-finite values ------------------------------------------------------------------------------


def _exploding(**train_keys):
    return tiny_fm_config(steps=60, lr=1e6, schedule="constant", checkpoint_every=10, log_every=10,
                          steps_per_dispatch=5, ema_decay=0.0, **train_keys)


def test_a_nan_run_stops_naming_the_step_and_keeps_only_finite_checkpoints(tmp_path, capsys):
    config = _exploding()
    with pytest.raises(NonFiniteError, match=r"non-finite loss or parameters (at|within) step"):
        train.train_and_evaluate(config, tmp_path)
    ckpt = tmp_path / "checkpoints"
    trainer = train.Trainer.from_config(config)
    steps = train.Checkpointer(ckpt, read_only=True).steps()
    for step in steps:  # every checkpoint that exists restores to finite values
        state, _ = train.Checkpointer(ckpt, read_only=True).restore(trainer.abstract_state(), step)
        assert _all_finite((state.params, state.opt_state)), step
    assert not [p for p in ckpt.iterdir() if "tmp" in p.name]  # no save left half-written
    for step in steps:
        assert (ckpt / str(step) / CHECKSUMS).is_file()
    # The CLI says it in one line, and a rerun stops the same way rather than training on NaN.
    err = _one_line_error(capsys, ["train", "--config", EXPERIMENT, "--workdir", str(tmp_path / "cli"),
                                   *[f"--config.{k}={v}" for k, v in _cli_overrides(config).items()]])
    assert "non-finite" in err and "train.lr" in err


def _cli_overrides(config) -> dict:
    return {"data.batch_size": 64, "model.hidden": "(32,32)", "model.time_dim": 16, "model.ode.solver": "euler",
            "model.ode.steps": 2, "train.steps": 60, "train.lr": 1e6, "train.schedule": "constant",
            "train.checkpoint_every": 10, "train.log_every": 10, "train.steps_per_dispatch": 5,
            "train.warmup_steps": 0, "train.progress": False, "train.plot": False}


@pytest.mark.slow  # an option; the default tier stops a non-finite run (test_a_nan_run_stops_...)
def test_skip_nonfinite_updates_keeps_training_and_counts_the_skips(tmp_path):
    config = _exploding(skip_nonfinite_updates=True)
    results = train.train_and_evaluate(config, tmp_path)
    assert results["step"] == 60
    state, _ = train.Checkpointer(tmp_path / "checkpoints", read_only=True).restore(
        train.Trainer.from_config(config).abstract_state())
    assert _all_finite((state.params, state.opt_state))
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert sum(r.get("skipped_updates", 0) for r in logged if r["split"] == "train") > 0


def test_sample_and_eval_refuse_non_finite_parameters(tmp_path, capsys):
    config = tiny_fm_config(steps=10, checkpoint_every=10)
    train.train_and_evaluate(config, tmp_path)
    trainer = train.Trainer.from_config(config)
    ckpt = train.Checkpointer(tmp_path / "checkpoints", read_only=True)
    state, _ = ckpt.restore(trainer.abstract_state())
    bad = state.replace(params=jax.tree_util.tree_map(lambda x: x * jnp.nan, state.params))
    writer = train.Checkpointer(tmp_path / "checkpoints", keep=5)
    writer.save(11, bad)  # (a checkpoint written by an older version, or by hand)
    writer.close()
    err = _one_line_error(capsys, ["sample", "--workdir", str(tmp_path)])
    assert "non-finite parameters" in err and "step 11" in err


# -- damage versus mismatch -------------------------------------------------------------------------


@pytest.mark.slow  # the default tier refuses another model's workdir in test_train
def test_restore_into_a_different_model_is_a_config_error_and_renames_nothing(tmp_path):
    train.train_and_evaluate(tiny_fm_config(steps=10, checkpoint_every=5), tmp_path)
    (tmp_path / "config.json").unlink()  # the config check cannot catch it: the restore must
    before = _step_dirs(tmp_path / "checkpoints")
    other = tiny_fm_config(steps=10, checkpoint_every=5)
    other.model.hidden = (16, 16)
    with pytest.raises(CheckpointError, match=r"holds a different model \(params/\S+ is \(32,\) float32 in the checkpoint, "
                                              r"\(16,\) float32 now"):
        train.train_and_evaluate(other, tmp_path)
    assert _step_dirs(tmp_path / "checkpoints") == before
    assert not (tmp_path / "config.json").exists()  # written only after a successful restore


def _flip_bytes(step_dir: pathlib.Path, count: int = 8) -> None:
    data_files = [p for p in step_dir.rglob("*") if p.is_file() and "ocdbt.process_0/d" in str(p)]
    target = max(data_files, key=lambda p: p.stat().st_size)
    raw = bytearray(target.read_bytes())
    for i in range(count):
        raw[len(raw) // 2 + i] ^= 0xFF
    target.write_bytes(bytes(raw))


def test_flipped_bytes_are_detected_and_the_previous_step_is_used(tmp_path, caplog):
    config = tiny_fm_config(steps=20, checkpoint_every=10)
    train.train_and_evaluate(config, tmp_path)
    ckpt = tmp_path / "checkpoints"
    _flip_bytes(ckpt / "20")
    trainer = train.Trainer.from_config(config)
    with caplog.at_level("WARNING", logger="genjax"):
        _, step = train.Checkpointer(ckpt).restore(trainer.abstract_state())
    assert step == 10
    assert any("step 20" in r.getMessage() and "checksum" in r.getMessage() for r in caplog.records)
    assert (ckpt / "20.damaged").exists() and (ckpt / "10").exists()


def test_a_reader_retries_when_the_trainer_rotates_out_the_steps_it_is_reading(tmp_path, caplog):
    """A step deleted by the writer's max_to_keep while a reader reads it is not damage: the
    reader lists the steps again and restores the newest one, and renames nothing."""
    state = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}
    writer = train.Checkpointer(tmp_path, keep=2, async_save=False)
    for step in (10, 20):
        writer.save(step, jax.tree_util.tree_map(lambda x, s=step: x + s, state))
    writer.close()
    reader = train.Checkpointer(tmp_path, read_only=True)
    original, calls = reader._try_restore, []

    def rotated_while_read(step, abstract):
        calls.append(step)
        if len(calls) == 1:  # the trainer saves step 30 with keep=1 while step 20 is being read
            late = train.Checkpointer(tmp_path, keep=1, async_save=False)
            late.save(30, jax.tree_util.tree_map(lambda x: x + 30, state))
            late.close()
        return original(step, abstract)

    reader._try_restore = rotated_while_read
    with caplog.at_level("WARNING", logger="genjax"):
        restored, step = reader.restore(train.checkpoint.abstract_like(state))
    assert step == 30 and calls[0] == 20
    np.testing.assert_array_equal(restored["w"], state["w"] + 30)
    assert not caplog.records and sorted(p.name for p in tmp_path.iterdir()) == ["30"]


@pytest.mark.slow  # the default tier detects one damaged step (test_flipped_bytes_...)
def test_when_every_step_is_damaged_nothing_is_renamed_and_the_error_lists_them(tmp_path, capsys):
    config = tiny_fm_config(steps=20, checkpoint_every=10)
    train.train_and_evaluate(config, tmp_path)
    ckpt = tmp_path / "checkpoints"
    for step in ("10", "20"):
        _flip_bytes(ckpt / step)
    before = _step_dirs(ckpt)
    with pytest.raises(CheckpointError, match=r"no checkpoint .* can be read \(step 20: .*; step 10: .*nothing was moved"):
        train.train_and_evaluate(tiny_fm_config(steps=30, checkpoint_every=10), tmp_path)
    assert _step_dirs(ckpt) == before
    err = _one_line_error(capsys, ["eval", "--workdir", str(tmp_path)])  # eval: one line, no traceback
    assert "can be read" in err
    assert _step_dirs(ckpt) == before


# -- one writer per workdir -------------------------------------------------------------------------


def test_a_second_writer_is_refused(tmp_path, capsys):
    config = tiny_fm_config(steps=5, checkpoint_every=5)
    with WorkdirLock(tmp_path):
        with pytest.raises(CheckpointError, match=rf"workdir {tmp_path} is being trained by process {os.getpid()}"):
            train.train_and_evaluate(config, tmp_path)
    # released: the next run takes it, and cleans it up when done
    train.train_and_evaluate(config, tmp_path)
    assert not (tmp_path / ".genjax.lock").exists()


LONG_RUN = textwrap.dedent(
    """
    import sys
    from genjax import train
    from tests.conftest import tiny_fm_config
    config = tiny_fm_config(steps=400, checkpoint_every=20, log_every=20, steps_per_dispatch=1)
    train.train_and_evaluate(config, sys.argv[1])
    print("DONE")
    """
)


@pytest.mark.slow
def test_eval_during_training_reads_without_disturbing_the_trainer(tmp_path, capsys):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", LONG_RUN, str(tmp_path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not any(p.name.isdigit() for p in (tmp_path / "checkpoints").glob("*")):
        time.sleep(0.05)
    evaluated = 0
    while proc.poll() is None and evaluated < 3:
        assert cli.main(["eval", "--workdir", str(tmp_path)]) == 0
        evaluated += 1
        capsys.readouterr()
    # a second trainer is refused while the first runs
    if proc.poll() is None:
        err = _one_line_error(capsys, ["train", "--config", EXPERIMENT, "--workdir", str(tmp_path)])
        assert "is being trained by" in err
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "DONE" in out, err[-3000:]
    assert evaluated >= 1


# -- inputs -----------------------------------------------------------------------------------------


def test_bad_inputs_are_one_line_errors(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    bad_syntax = tmp_path / "bad_syntax.py"
    bad_syntax.write_text("def get_config(:\n")
    returns_none = tmp_path / "returns_none.py"
    returns_none.write_text("def get_config():\n    return None\n")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    cases = [
        (["train", "--config", EXPERIMENT, "--workdir", ""], "--workdir is empty"),
        (["train", "--config", EXPERIMENT, "--workdir", str(a_file)], "is a file, not a directory"),
        (["eval", "--workdir", str(a_file)], "is a file, not a directory"),
        (["eval", "--workdir", str(tmp_path / "nonexistent")], "does not exist"),
        (["eval", "--workdir", str(damaged)], "config.json is damaged"),
        (["train", "--config", str(bad_syntax), "--workdir", str(tmp_path / "w1")], "syntax error at line 1"),
        (["train", "--config", str(returns_none), "--workdir", str(tmp_path / "w2")], "returned NoneType"),
        (["train", "--config", str(tmp_path), "--workdir", str(tmp_path / "w3")], "is a directory"),
    ]
    for argv, fragment in cases:
        assert fragment in _one_line_error(capsys, argv), argv
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    err = _one_line_error(capsys, ["train", "--config", EXPERIMENT, "--workdir", str(tmp_path / "w4"), "--distributed"])
    assert "--distributed found no cluster" in err


def test_pairs_files_with_nan_or_the_wrong_shape_are_config_errors(tmp_path):
    from genjax import registry
    from genjax.data import get_dataset

    import ml_collections

    moons = get_dataset("moons")
    for name, x0, x1, fragment in (
        ("nan", np.full((8, 2), np.nan), np.zeros((8, 2)), "non-finite"),
        ("shape", np.zeros((8, 2)), np.zeros((7, 2)), "must have one shape"),
        ("event", np.zeros((8, 3)), np.zeros((8, 3)), "events of shape"),
    ):
        path = tmp_path / f"{name}.npz"
        np.savez(path, x0=x0, x1=x1)
        with pytest.raises(ConfigError, match=fragment):
            registry.build_model(ml_collections.ConfigDict({"name": "flow_matching", "coupling": "pairs",
                                                            "pairs": str(path)}), moons)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="not a pairs file"):
        registry.build_model(ml_collections.ConfigDict({"name": "flow_matching", "coupling": "pairs",
                                                        "pairs": str(tmp_path / "junk.npz")}), moons)


@pytest.mark.slow  # an edge case of the one-writer rule; the default tier refuses a second writer
def test_eval_into_a_read_only_workdir_fails_before_evaluating(tmp_path, capsys, monkeypatch):
    train.train_and_evaluate(tiny_fm_config(steps=5, checkpoint_every=5), tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if pathlib.Path(p) == tmp_path else real_access(p, mode))
    calls = []
    monkeypatch.setattr(train.Trainer, "evaluate", lambda self, state: calls.append(1) or {})
    assert "is not writable" in _one_line_error(capsys, ["eval", "--workdir", str(tmp_path)])
    assert not calls


@pytest.mark.slow  # the default tier refuses another model's workdir (test_train)
def test_lowering_train_steps_below_the_latest_checkpoint_is_refused(tmp_path, capsys):
    config = tiny_fm_config(steps=20, checkpoint_every=10)
    train.train_and_evaluate(config, tmp_path)
    saved = (tmp_path / "config.json").read_text()
    with pytest.raises(ConfigError, match=r"train.steps' = 10 is below the workdir's latest checkpoint \(step 20\)"):
        train.train_and_evaluate(tiny_fm_config(steps=10, checkpoint_every=10), tmp_path)
    assert (tmp_path / "config.json").read_text() == saved  # not rewritten with the lower number
