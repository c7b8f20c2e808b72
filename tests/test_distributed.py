"""Several processes on one machine (JAX's distributed runtime over gloo), per-host data, checkpoints
across topologies, failure propagation, and FSDP-sharded parameters.

The multi-process tests start ``python -m genjax.launch`` (a free coordinator port each time) and
run ``tests/distributed_worker.py`` or the CLI under it, each with a timeout.
"""

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

from genjax import cli, data, launch, train
from genjax.train import sharding as gshard
from tests.conftest import tiny_fm_config

REPO = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENT = str(REPO / "experiments" / "fm_moons.py")
TIMEOUT = 600
CLUSTER_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "SLURM_JOB_ID", "SLURM_STEP_NODELIST",
               "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "OMPI_MCA_orte_hnp_uri", "KUBERNETES_SERVICE_HOST")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLUSTER_ENV}
    return {**env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **extra}


def _launch(processes: int, devices: int, *command: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "genjax.launch", "--processes", str(processes), "--devices-per-process",
            str(devices), "--", *command]
    return subprocess.run(argv, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)


def _single(devices: int, *command: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    env = _env(XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    return subprocess.run(list(command), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return proc.stdout


WORKER = (sys.executable, "-m", "tests.distributed_worker")


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


# -- the launcher and --distributed -------------------------------------------------------------


def _one_line_error(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("genjax: error:"), (code, err)
    return err


def test_distributed_without_a_cluster_is_a_one_line_error(capsys, monkeypatch, tmp_path):
    for k in CLUSTER_ENV:
        monkeypatch.delenv(k, raising=False)
    argv = ["train", "--config", EXPERIMENT, "--workdir", str(tmp_path), "--distributed"]
    err = _one_line_error(capsys, argv)
    assert "--distributed found no cluster" in err and "JAX_COORDINATOR_ADDRESS is not set" in err
    assert "no SLURM task" in err and "genjax.launch" in err
    # A half-set environment names exactly what is missing.
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "127.0.0.1:1")
    err = _one_line_error(capsys, argv)
    assert "JAX_NUM_PROCESSES and JAX_PROCESS_ID are not" in err
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS")
    monkeypatch.setenv("SLURM_JOB_ID", "7")  # inside an allocation, but not started by srun
    err = _one_line_error(capsys, argv)
    assert "the SLURM environment lacks SLURM_STEP_NODELIST, SLURM_NTASKS, SLURM_PROCID, SLURM_LOCALID" in err
    assert not (tmp_path / "config.json").exists()


CHILD = textwrap.dedent(
    """
    import os, sys, time
    i = int(os.environ["JAX_PROCESS_ID"])
    print("ENV", i, os.environ["JAX_NUM_PROCESSES"], os.environ["JAX_COORDINATOR_ADDRESS"],
          os.environ["JAX_PLATFORMS"], os.environ["JAX_CPU_COLLECTIVES_IMPLEMENTATION"], os.environ["XLA_FLAGS"],
          flush=True)
    if i == int(sys.argv[1]):
        time.sleep(0.5)
        if sys.argv[2] == "kill":
            os.kill(os.getpid(), 9)
        sys.exit(int(sys.argv[2]))
    time.sleep(120)  # the others would outlive the test unless the launcher stops them
    """
)


@pytest.mark.parametrize("how, code, says", [("3", 3, "exited with code 3"), ("kill", 128 + 9, "was killed by SIGKILL")])
def test_launcher_sets_the_environment_and_one_failure_stops_all(how, code, says):
    start = time.monotonic()
    proc = _launch(3, 2, sys.executable, "-c", CHILD, "1", how, timeout=60)
    assert time.monotonic() - start < 30  # not the 120 s the others sleep
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("genjax.launch: process 1 of 3 (pid ") and says in last, last
    assert "stopped the other 2 running process(es)" in last
    lines = [line for line in proc.stdout.splitlines() if "ENV" in line]
    assert len(lines) == 3
    ports = set()
    for line in lines:
        fields = line.split("ENV ", 1)[1].split()
        i = int(fields[0])
        assert line.startswith(f"[process {i}] ENV") if i else line.startswith("ENV")
        assert fields[1] == "3" and fields[3:5] == ["cpu", "gloo"]
        assert "--xla_force_host_platform_device_count=2" in fields[5:]
        assert fields[2].startswith("127.0.0.1:")
        ports.add(fields[2])
    assert len(ports) == 1


def test_launcher_usage_errors_are_one_line(capsys):
    assert launch.main(["--processes", "2", "genjax", "train"]) == 2
    assert "give the command after `--`" in capsys.readouterr().err
    assert launch.main(["--processes", "0", "--", "true"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ">= 1" in err
    assert launch.resolve_command(["genjax", "train"]) == [sys.executable, "-m", "genjax.cli", "train"]


# -- per-host data ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digits", "moons"])
def test_shards_of_a_batch_are_its_rows(name):
    ds = data.get_dataset(name)
    key = jax.random.key(3)
    for step in (0, 15):  # digits: batch 15 of 96 straddles an epoch boundary (1497 examples)
        whole = ds.train_batch(key, step, 96)
        for shards in (2, 4):
            parts = [ds.train_shard(key, step, 96, i, shards) for i in range(shards)]
            for k in whole:
                joined = np.concatenate([np.asarray(p[k]) for p in parts])
                np.testing.assert_array_equal(joined, np.asarray(whole[k]))
    if name == "digits":  # the blocks of one within-epoch batch hold disjoint examples
        idx = np.asarray(ds.train_indices(key, 0, 96)).reshape(4, 24)
        assert len(set(idx.ravel())) == 96
    with pytest.raises(ValueError, match="evenly"):
        ds.train_shard(key, 0, 96, 0, 5)


def test_digits_as_images():
    flat, image = data.get_dataset("digits"), data.get_dataset("digits", image=True)
    assert image.event_shape == (8, 8, 1) and flat.event_shape == (64,)
    key = jax.random.key(0)
    np.testing.assert_array_equal(np.asarray(image.train_batch(key, 2, 8)["x"]).reshape(8, 64),
                                  np.asarray(flat.train_batch(key, 2, 8)["x"]))


class _Rows:
    """A stand-in sharding whose process holds the given row ranges of the batch."""

    def __init__(self, ranges):
        self.ranges = ranges

    def addressable_devices_indices_map(self, shape):
        return {i: (slice(a, b),) for i, (a, b) in enumerate(self.ranges)}


def test_process_blocks_follow_the_rows_a_process_holds():
    assert gshard.process_blocks(_Rows([(8, 12), (12, 16)]), (32,)) == [(1, 4)]  # the usual: one block
    assert gshard.process_blocks(_Rows([(16, 20), (0, 4)]), (32,)) == [(0, 8), (4, 8)]  # two, in row order
    assert gshard.process_blocks(_Rows([(4, 8), (8, 12)]), (32,)) == [(1, 8), (2, 8)]  # a run not on a block edge
    assert gshard.process_blocks(_Rows([(0, 32)] * 4), (32,)) == [(0, 1)]  # replicated: the whole batch


# -- sharding rules -----------------------------------------------------------------------------


def test_fsdp_rule_splits_the_large_kernels_of_the_unet_and_mlp():
    from genjax.nn import TimeMLP, UNet

    x = jnp.zeros((2, 8, 8, 1))
    unet = jax.eval_shape(UNet(channels=64, channel_mult=(1, 2)).init, jax.random.key(0), x, jnp.zeros(2))
    mlp = jax.eval_shape(TimeMLP(hidden=(512, 512, 512)).init, jax.random.key(0), jnp.zeros((2, 64)), jnp.zeros(2))
    for params in (unet, mlp):
        split = replicated = 0
        for path, leaf in jax.tree_util.tree_leaves_with_path(params):
            spec = gshard.fsdp_spec(leaf.shape, 8, 2**14)
            name = jax.tree_util.keystr(path)
            if leaf.size >= 2**14:
                # kernels: [3, 3, c_in, c_out] split on c_out (or c_in when only it divides); [d_in, d_out] on the larger
                axis = list(spec).index("fsdp")
                assert leaf.shape[axis] == max(d for d in leaf.shape if d % 8 == 0), (name, leaf.shape, spec)
                split += leaf.size
            else:
                assert spec == jax.sharding.PartitionSpec(), (name, spec)
                replicated += leaf.size
        assert split > 0.9 * (split + replicated)  # nearly every parameter lives in a split kernel
    assert gshard.fsdp_spec((5, 7 * 4095), 8, 16) == jax.sharding.PartitionSpec()  # no axis divisible
    assert gshard.fsdp_spec((3, 64, 16), 8, 16, leading=1) == jax.sharding.PartitionSpec(None, "fsdp", None)


FSDP_SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile, jax, numpy as np
    from genjax import train
    from genjax.errors import ConfigError
    from tests.conftest import tiny_fm_config

    mode, seeds = sys.argv[1], int(sys.argv[2])
    MIN_SIZE = 2048

    def config(fsdp):
        c = tiny_fm_config(num_seeds=seeds)
        c.model.hidden = (128, 128)
        c.sharding.fsdp, c.sharding.min_size = fsdp, MIN_SIZE
        return c

    def layout(state):
        # [devices holding the array, sizes of the pieces on them, array size] of every large array
        out = []
        for leaf in jax.tree_util.tree_leaves((state.params, state.opt_state, state.ema_params)):
            if leaf.size // (seeds if leaf.ndim and seeds > 1 else 1) >= MIN_SIZE:
                out.append([len({s.device for s in leaf.addressable_shards}),
                            sorted({s.data.size for s in leaf.addressable_shards}), leaf.size])
        return out

    def max_diff(a, b):
        return max(float(np.abs(np.asarray(x) - np.asarray(y)).max())
                   for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))

    t1, t8 = train.Trainer.from_config(config(1)), train.Trainer.from_config(config(8))
    out = {"memory": [t1.state_memory(), t8.state_memory()]}
    try:
        train.Trainer.from_config(config(3))
    except ConfigError as e:
        out["error"] = str(e)
    s1, s8 = t1.init(), t8.init()
    out["init_diff"], out["layout"] = max_diff(s1, s8), layout(s8)
    out["replicated"] = all(l.sharding.is_fully_replicated for l in jax.tree_util.tree_leaves(s1))
    if mode.startswith("steps"):
        (s1, m1), (s8, m8) = t1.run(s1, 0, 3), t8.run(s8, 0, 3)
        out["diff"], out["layout_after"] = max_diff(s1.params, s8.params), layout(s8)
        out["loss_diff"] = float(np.abs(np.asarray(m1["loss"]) - np.asarray(m8["loss"])).max())
    if mode == "steps+restore":
        # A checkpoint saved split restores replicated, and the reverse.
        d = tempfile.mkdtemp()
        for name, state in (("split", s8), ("replicated", s1)):
            ck = train.Checkpointer(f"{d}/{name}"); ck.save(3, state); ck.close()
        back, _ = train.Checkpointer(f"{d}/split").restore(t1.abstract_state())
        split, _ = train.Checkpointer(f"{d}/replicated").restore(t8.abstract_state())
        out["restore"] = [max_diff(back, s8), max_diff(split, s1), layout(split) == layout(s8),
                          all(l.sharding.is_fully_replicated for l in jax.tree_util.tree_leaves(back))]
    print("RESULT" + json.dumps(out))
    """
)


def _fsdp(mode: str, seeds: int, min_large: int) -> dict:
    r = json.loads(_ok(_single(8, sys.executable, "-c", FSDP_SCRIPT, mode, str(seeds))).split("RESULT", 1)[1])
    assert r["replicated"] and r["init_diff"] == 0.0
    assert len(r["layout"]) >= min_large, r["layout"]
    for devices, pieces, size in r["layout"] + r.get("layout_after", []):
        assert devices == 8 and pieces == [size // 8], (devices, pieces, size)  # each device holds 1/8
    replicated, split = r["memory"]
    assert replicated["total"] == split["total"] == replicated["per_device"]
    assert split["per_device"] < 0.25 * replicated["per_device"], r["memory"]
    assert "sharding.fsdp' = 3 must divide the number of devices (8)" in r["error"]
    return r


def test_fsdp_splits_params_and_optimiser_state_eight_ways():
    """A (128, 128) TimeMLP on 8 devices with sharding.fsdp=8: every large array of the state
    (params, adam's two moments, EMA) lies 1/8 on each device, initialised as when replicated."""
    _fsdp("init", 1, min_large=4 * 4)


@pytest.mark.slow
@pytest.mark.parametrize("seeds", [1, 2])
def test_fsdp_steps_equal_replicated_steps_and_checkpoints_cross_over(seeds):
    """Three steps with the state split 8 ways equal three replicated ones (1e-5), also with two
    vmapped seeds, and the state stays split; a checkpoint saved split restores replicated and the
    reverse, exactly. (The digits UNet's split and replicated runs are compared by
    benchmarks/distributed_fsdp.py, whose compile is too long for the test budget.)"""
    r = _fsdp("steps+restore" if seeds == 1 else "steps", seeds, min_large=4 * 4)
    assert r["diff"] < 1e-5 and r["loss_diff"] < 1e-5, r
    if seeds == 1:
        assert r["restore"] == [0.0, 0.0, True, True]


# -- several processes --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process (8 devices), then 2 processes x 4 devices, then one process (1 device) again,
    each running several worker tasks (see tests/distributed_worker.py)."""
    root = tmp_path_factory.mktemp("distributed")
    _ok(_single(8, *WORKER, f"reference:{root / 'steps'}", f"fit:{root / 'whole'}:20", f"fit:{root / 'one_then_two'}:10"))
    multi = _ok(_launch(2, 4, *WORKER, f"steps:{root / 'steps'}", f"fit:{root / 'two_then_one'}:10",
                        f"fit:{root / 'one_then_two'}:20", f"cli:{root / 'cli_full'}"))
    single = _ok(_single(1, *WORKER, f"fit1:{root / 'two_then_one'}:20"))
    return root, multi, single


@pytest.mark.slow
def test_two_processes_train_like_one_and_read_disjoint_halves(runs):
    """2 processes x 4 devices == 1 x 8 == 1 x 1 at batch 64; each process read its half of each batch."""
    root = runs[0] / "steps"
    multi, one8, one1 = (dict(np.load(root / f"params_{n}.npz")) for n in ("multi", "1x8", "1x1"))
    assert _max_diff(multi, one8) < 1e-5 and _max_diff(multi, one1) < 1e-5 and _max_diff(one8, one1) < 1e-5
    ref = dict(np.load(root / "rows_reference.npz"))
    local = [dict(np.load(root / f"rows_{p}.npz")) for p in (0, 1)]
    assert [r.pop("block").tolist() for r in local] == [[[0, 2]], [[1, 2]]]
    assert set(ref) == set(local[0]) == set(local[1]) and any(k.startswith("mnist/") for k in ref)
    for key, whole in ref.items():  # digits (in memory) and mnist (tfds + grain)
        halves = [r[key] for r in local]
        assert all(h.shape[0] == whole.shape[0] // 2 for h in halves), key
        np.testing.assert_array_equal(np.concatenate(halves), whole, err_msg=key)  # their union, in order
    # Disjoint: no example of one half is in the other (each batch lies within one epoch, so its
    # examples are distinct; dequantization noise makes every row unique).
    for t in range(3):
        a, b = (set(map(bytes, r[f"digits/{t}/x"])) for r in local)
        assert not a & b


def _restored(workdir):
    from tests.distributed_worker import fit_config

    _, state, step = train.restore_for_eval(fit_config(20), workdir)
    return step, {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(state)}


@pytest.mark.slow
def test_checkpoints_move_between_process_counts(runs):
    """Saved by 2 processes, continued by 1 (and the reverse): equal to an uninterrupted run."""
    root, multi, single = runs
    assert "resuming from step 10" in single
    assert "resuming from step 10" in multi and "[process 1] resuming" not in multi
    step, whole = _restored(root / "whole")
    assert step == 20
    for name in ("two_then_one", "one_then_two"):
        step, params = _restored(root / name)
        assert step == 20 and _max_diff(params, whole) < 1e-5, name
        lines = [json.loads(l) for l in (root / name / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in lines if r["split"] == "train"] == [5, 10, 15, 20]  # one writer


def _children(pid: int) -> list[int]:
    path = pathlib.Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _process_id(pid: int) -> int | None:
    try:
        env = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    found = [e for e in env if e.startswith(b"JAX_PROCESS_ID=")]
    return int(found[0].split(b"=")[1]) if found else None


def _alive(pid: int) -> bool:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _train_command(workdir) -> list[str]:
    from tests.distributed_worker import CLI_OVERRIDES

    return [sys.executable, "-m", "genjax.launch", "--processes", "2", "--devices-per-process", "4", "--",
            "genjax", "train", "--config", EXPERIMENT, "--workdir", str(workdir), "--distributed", *CLI_OVERRIDES]


@pytest.mark.slow
def test_sigkill_of_one_process_stops_the_job_and_a_restart_resumes_bitwise(runs, tmp_path):
    """`genjax train --distributed` under the launcher: SIGKILL of process 1 stops the job; the same
    command resumes it, ending bitwise where an uninterrupted 2-process run ends."""
    from tests.distributed_worker import CLI_OVERRIDES

    killed = tmp_path / "killed"
    job = subprocess.Popen(_train_command(killed), cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.time() + TIMEOUT
    ckpt = killed / "checkpoints"
    while time.time() < deadline and job.poll() is None:
        steps = [int(p.name) for p in ckpt.glob("*") if p.name.isdigit()] if ckpt.exists() else []
        if steps and max(steps) >= 40:
            break
        time.sleep(0.02)
    children = _children(job.pid)
    victim = [c for c in children if _process_id(c) == 1]
    assert job.poll() is None and len(children) == 2 and victim, "training finished before it could be killed"
    os.kill(victim[0], signal.SIGKILL)
    killed_at = time.time()
    _, err = job.communicate(timeout=120)
    assert time.time() - killed_at < 60  # the launcher stopped process 0 rather than leaving it waiting
    assert job.returncode == 128 + signal.SIGKILL
    assert "genjax.launch: process 1 of 2" in err and "was killed by SIGKILL; stopped the other 1 running" in err
    assert not any(_alive(c) for c in children)
    out = _ok(subprocess.run(_train_command(killed), cwd=REPO, env=_env(), capture_output=True, text=True,
                             timeout=TIMEOUT))
    assert "resuming from step" in out
    config = cli.load_config(EXPERIMENT, None, [tuple(o[len("--config."):].split("=", 1)) for o in CLI_OVERRIDES])
    _, a, sa = train.restore_for_eval(config, runs[0] / "cli_full")
    _, b, sb = train.restore_for_eval(config, killed)
    assert sa == sb == 120
    diffs = jax.tree_util.tree_map(lambda x, y: float(jnp.max(jnp.abs(x - y))), a, b)
    assert max(jax.tree_util.tree_leaves(diffs)) == 0.0  # bitwise
    steps = [json.loads(l)["step"] for l in (killed / "metrics.jsonl").read_text().splitlines()
             if json.loads(l)["split"] == "train"]
    assert steps == list(range(20, 121, 20))  # no duplicated or missing log lines
