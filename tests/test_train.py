"""The train step and loop: purity, jit, seeds, devices, checkpoints and resumption."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import train
from genjax.errors import CheckpointError
from genjax.train.step import make_train_step
from tests.conftest import tiny_fm_config

REPO = pathlib.Path(__file__).resolve().parent.parent


def _max_diff(a, b) -> float:
    diffs = jax.tree_util.tree_map(lambda x, y: float(jnp.max(jnp.abs(x - y))), a, b)
    return max(jax.tree_util.tree_leaves(diffs))


def _setup(config):
    trainer = train.Trainer.from_config(config)
    state = trainer.init()
    step = make_train_step(trainer.model, trainer.tx, ema_decay=0.9, schedule=trainer.schedule)
    batch = trainer.dataset.train_batch(jax.random.key(0), 0, config.data.batch_size)
    return trainer, state, step, batch


def test_train_step_is_pure_and_jit_equals_nojit():
    _, state, step, batch = _setup(tiny_fm_config())
    s1, m1 = step(state, batch)  # eager: one call (op-by-op dispatch costs seconds)
    jitted = jax.jit(step)
    s3, m3 = jitted(state, batch)
    assert _max_diff(s1, s3) < 1e-6
    assert abs(float(m1["loss"]) - float(m3["loss"])) < 1e-6
    # Same inputs, same outputs through a second, separate trace: no hidden Python state, no key carried.
    s2, m2 = jax.jit(step)(state, batch)
    assert _max_diff(s3, s2) == 0.0 and float(m3["loss"]) == float(m2["loss"])
    assert int(s1.step) == 1 and set(m1) >= {"loss", "grad_norm", "lr"}
    # The step's randomness is fold_in(rng, step): a different step number gives another loss.
    s4, m4 = jitted(state.replace(step=state.step + 1), batch)
    assert float(m4["loss"]) != float(m3["loss"])


def test_ema_warmup_follows_its_ramp_and_forgets_the_initial_parameters():
    """With ema_warmup the EMA after update t is decay_t * ema + (1 - decay_t) * params with
    decay_t = min(ema_decay, (1 + t) / (10 + t))."""
    trainer, state, _, batch = _setup(tiny_fm_config())
    step = jax.jit(make_train_step(trainer.model, trainer.tx, ema_decay=0.99, ema_warmup=True))
    s, ema = state, state.ema_params
    # updates 0, 100, 2000: decay 0.1 (mostly the new parameters), 101/110, then ema_decay itself
    for t, d in ((0, 0.1), (100, 101 / 110), (2000, 0.99)):
        s, _ = step(s.replace(step=jnp.asarray(t, s.step.dtype)), batch)
        ema = jax.tree_util.tree_map(lambda e, p, d=d: d * e + (1 - d) * p, ema, s.params)
        assert _max_diff(s.ema_params, ema) < 1e-6, t


def test_scanned_steps_equal_single_steps():
    config = tiny_fm_config()
    trainer = train.Trainer.from_config(config)
    state = trainer.init()
    single = state
    for i in range(4):
        single, _ = trainer.run(single, i, 1)
    scanned, metrics = trainer.run(trainer.init(), 0, 4)
    assert metrics["loss"].shape == (4,)
    assert int(scanned.step) == 4
    assert _max_diff(single.params, scanned.params) < 1e-6


def test_vmapped_seeds_equal_separate_runs():
    steps = 6
    config = tiny_fm_config(num_seeds=2)
    config.seed = 5
    trainer = train.Trainer.from_config(config)
    stacked, metrics = trainer.run(trainer.init(), 0, steps)
    assert metrics["loss"].shape == (2, steps)
    for i in range(2):
        c = tiny_fm_config()
        c.seed = 5 + i
        t = train.Trainer.from_config(c)
        alone, m = t.run(t.init(), 0, steps)
        mine = jax.tree_util.tree_map(lambda a, i=i: a[i], stacked)
        assert _max_diff(mine.params, alone.params) < 1e-5
        assert _max_diff(mine.ema_params, alone.ema_params) < 1e-5
        np.testing.assert_allclose(metrics["loss"][i], m["loss"], atol=1e-5)
    # the seeds really differ
    assert _max_diff(jax.tree_util.tree_map(lambda a: a[0], stacked.params),
                     jax.tree_util.tree_map(lambda a: a[1], stacked.params)) > 1e-3


SHARDED_SCRIPT = textwrap.dedent(
    """
    import json, jax, jax.numpy as jnp
    from genjax import train
    from genjax.errors import ConfigError
    from tests.conftest import tiny_fm_config

    assert jax.device_count() == 8, jax.devices()
    c = tiny_fm_config(); c.data.batch_size = 60
    try:
        train.Trainer.from_config(c)
    except ConfigError as e:
        print("ERR", e)
    out = {}
    for seeds in (1, 2):
        config = tiny_fm_config(num_seeds=seeds)
        results = {}
        for name, devices in (("multi", jax.devices()), ("single", jax.devices()[:1])):
            trainer = train.Trainer.from_config(config, mesh=train.make_mesh(devices))
            state, m = trainer.run(trainer.init(), 0, 3)
            sharding = jax.tree_util.tree_leaves(state.params)[0].sharding
            losses = m["loss"].ravel()
            results[name] = (jax.device_get(state), jax.device_get(losses), len(sharding.device_set))
        (a, la, na), (b, lb, nb) = results["multi"], results["single"]
        diff = max(jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x, y: float(abs(x - y).max()), a.params, b.params)))
        out[seeds] = {"param_diff": diff, "loss_diff": float(abs(la - lb).max()), "devices": [na, nb]}
    print("RESULT" + json.dumps(out))
    """
)


def sharded_script(factory: str = "tests.conftest:tiny_fm_config", seeds: tuple[int, ...] = (1, 2)) -> str:
    """SHARDED_SCRIPT for another tiny config (``module:function``, any keyword-free config
    factory taking ``num_seeds``) and other seed counts."""
    module, name = factory.split(":")
    return SHARDED_SCRIPT.replace("from tests.conftest import tiny_fm_config",
                                  f"from {module} import {name} as tiny_fm_config").replace(
        "for seeds in (1, 2):", f"for seeds in {tuple(seeds)!r}:")


def _run_python(code: str, env_extra: dict, timeout: float = 900) -> str:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_sharded_step_equals_single_device_and_checks_batch_divisibility():
    # One 8-device subprocess for every one-seed sharding check (each subprocess start and compile costs).
    _check_sharded(sharded_script(seeds=(1,)), {"1"})


@pytest.mark.slow  # two seeds vmapped inside the sharded step
def test_sharded_step_with_vmapped_seeds_equals_single_device():
    _check_sharded(sharded_script(seeds=(2,)), {"2"})


def _check_sharded(script: str, seeds: set[str]):
    out = _run_python(script, {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
    err, result = out.split("RESULT", 1)
    assert "ERR" in err and "data.batch_size" in err and "divisible" in err and "(8)" in err
    assert set(json.loads(result)) == seeds
    for seeds, r in json.loads(result).items():
        assert r["devices"] == [8, 1], r
        assert r["param_diff"] < 1e-5, (seeds, r)
        assert r["loss_diff"] < 1e-5, (seeds, r)


# ---------------------------------------------------------------------------------------------
# checkpoints


def _final_params(workdir: pathlib.Path, config):
    trainer, state, step = train.restore_for_eval(config, workdir)
    return state, step


def test_loop_writes_metrics_checkpoints_and_resumes(tmp_path):
    config = tiny_fm_config(steps=20, steps_per_dispatch=5)
    results = train.train_and_evaluate(config, tmp_path)
    assert results["step"] == 20 and "w2/default" in results and "w2_floor" in results
    lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if r["split"] == "train"] == [5, 10, 15, 20]
    assert (tmp_path / "final_metrics.json").exists()
    assert train.Checkpointer(tmp_path / "checkpoints").steps() == [10, 20]
    # Asking for more steps continues from the last checkpoint.
    config.train.steps = 30
    results = train.train_and_evaluate(config, tmp_path)
    assert results["step"] == 30


@pytest.mark.slow  # the default tier resumes once (test_loop_writes_metrics_checkpoints_and_resumes)
def test_resume_in_pieces_equals_uninterrupted(tmp_path):
    # A constant schedule: with a decaying one, train.steps is part of the lr schedule.
    config = tiny_fm_config(steps=20, checkpoint_every=5, steps_per_dispatch=5, schedule="constant")
    train.train_and_evaluate(config, tmp_path / "full")
    short = tiny_fm_config(steps=10, checkpoint_every=5, steps_per_dispatch=5, schedule="constant")
    train.train_and_evaluate(short, tmp_path / "pieces")
    train.train_and_evaluate(config, tmp_path / "pieces")
    a, _ = _final_params(tmp_path / "full", config)
    b, _ = _final_params(tmp_path / "pieces", config)
    assert _max_diff(a, b) == 0.0


@pytest.mark.slow  # the default tier's test_flipped_bytes_are_detected_and_the_previous_step_is_used falls back too
def test_damaged_latest_checkpoint_falls_back(tmp_path, caplog):
    config = tiny_fm_config(steps=20, checkpoint_every=10)
    train.train_and_evaluate(config, tmp_path)
    ckpt = tmp_path / "checkpoints"
    good, _ = _final_params(tmp_path, tiny_fm_config(steps=20, checkpoint_every=10))
    # Damage step 20: remove the array data files.
    for f in (ckpt / "20").rglob("*"):
        if f.is_file() and "metadata" not in f.name:
            f.write_bytes(b"garbage")
    trainer = train.Trainer.from_config(config)
    with caplog.at_level("WARNING", logger="genjax"):
        state, step = train.Checkpointer(ckpt).restore(trainer.abstract_state())
    assert step == 10
    assert any("step 20" in r.getMessage() for r in caplog.records)
    assert (ckpt / "20.damaged").exists()
    # Training resumes from step 10 and reproduces the lost step 20 exactly.
    train.train_and_evaluate(config, tmp_path)
    again, step = _final_params(tmp_path, config)
    assert step == 20 and _max_diff(good, again) == 0.0


def test_workdir_of_a_different_model_is_a_clear_error(tmp_path):
    config = tiny_fm_config(steps=5, checkpoint_every=5)
    train.train_and_evaluate(config, tmp_path)
    other = tiny_fm_config(steps=5, checkpoint_every=5)
    other.model.hidden = (16, 16)
    with pytest.raises(CheckpointError, match=r"model\.hidden"):
        train.train_and_evaluate(other, tmp_path)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from genjax import train
    from tests.conftest import tiny_fm_config
    config = tiny_fm_config(steps=800, checkpoint_every=20, log_every=20, steps_per_dispatch=1)
    train.train_and_evaluate(config, sys.argv[1])
    print("DONE")
    """
)


def _checkpointed_steps(ckdir: pathlib.Path) -> list[int]:
    return sorted(int(p.name) for p in ckdir.glob("*") if p.name.isdigit()) if ckdir.exists() else []


@pytest.mark.slow
def test_sigkill_and_restart_gives_the_same_parameters(tmp_path):
    """Killed twice (after the first checkpoint, then mid-run), restarted each time: bitwise equal.

    The run is long against the kill points (20, 120 of 800) so that a loaded machine, where the
    polling test gets the cores later than the trainer, still kills it mid-run."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(full)], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=600)
    for kill_at in (20, 120):
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(killed)], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            steps = _checkpointed_steps(killed / "checkpoints")
            if steps and steps[-1] >= kill_at:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    out = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(killed)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resuming from step" in out.stdout
    config = tiny_fm_config(steps=800, checkpoint_every=20, log_every=20, steps_per_dispatch=1)
    a, sa = _final_params(full, config)
    b, sb = _final_params(killed, config)
    assert sa == sb == 800
    assert _max_diff(a, b) == 0.0  # bitwise
    steps = [json.loads(l)["step"] for l in (killed / "metrics.jsonl").read_text().splitlines()
             if json.loads(l)["split"] == "train"]
    assert steps == list(range(20, 801, 20))  # no duplicated or missing log lines
