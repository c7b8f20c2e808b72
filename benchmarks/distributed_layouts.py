"""Step time and memory per device of one global batch laid out as 1x8, 2x4 and 8x1 (processes x devices).

    python -m benchmarks.distributed_layouts                  # writes benchmarks/results/distributed_layouts.json
    python -m benchmarks.distributed_layouts --rounds 9 --calls 5

Work per call: one dispatch of ``steps_per_dispatch`` train steps of experiments/diffusion_digits.py
(VP score SDE, TimeMLP 3x512, batch 256, adam) on 8 CPU devices in all, laid out as

- ``1x8``: one process, 8 devices, batches drawn inside the compiled program (the default there);
- ``1x8 host-fed``: the same, batches read on the host and assembled with
  ``make_array_from_process_local_data`` (the path every multi-process run takes);
- ``2x4``, ``8x1``: 2 processes of 4 devices, 8 of 1, through ``python -m genjax.launch``
  (gloo collectives over the loopback), each process reading its rows of every batch.

Every layout starts at once and compiles; then the layouts run in interleaved blocks (A B C D,
D C B A, ...) of ``--calls`` dispatches each, the others waiting idle, so all see the same load
drift (benchmarks/harness.py's method, across processes). Reported: the median time per dispatch
with its interquartile range, the per-round ratio of each layout's time to ``1x8 host-fed``'s (the
multi-process overhead at equal data path) and to ``1x8``'s, and XLA's memory analysis of the
compiled dispatch per device (arguments, outputs, temporaries) with the train state's bytes per device.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.harness import Comparison, _summary, report

REPO = pathlib.Path(__file__).resolve().parent.parent
# name -> (processes, devices per process, host-fed batches)
LAYOUTS = {"1x8": (1, 8, False), "1x8 host-fed": (1, 8, True), "2x4": (2, 4, True), "8x1": (8, 1, True)}
WARMUP = 3
POLL = 0.005


def bench_config():
    from experiments.diffusion_digits import get_config

    c = get_config()
    c.train.steps_per_dispatch = 10
    c.train.progress = c.train.plot = False
    return c


def _wait_for(path: pathlib.Path, procs=(), timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        for p in procs:
            if p.poll() not in (None, 0):
                raise RuntimeError(f"a benchmark process exited with code {p.returncode} (waiting for {path.name})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path.name} after {timeout} s")
        time.sleep(POLL)


def _write(path: pathlib.Path, record) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def worker(name: str, control: pathlib.Path, rounds: int, calls: int) -> None:
    """One process of layout ``name``: compile, report memory, then time a block per go-file."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        from genjax.train.distributed import initialize

        initialize()
    import jax

    from genjax import train

    tag = name.replace(" ", "_")
    config = bench_config()
    trainer = train.Trainer.from_config(config, host_data=LAYOUTS[name][2])
    n = config.train.steps_per_dispatch
    state, step = trainer.init(), 0
    for _ in range(WARMUP):
        state, _, _ = trainer.dispatch(state, step, n)
        step += n
    jax.block_until_ready(state)
    memory = trainer.step_memory(state, n)
    primary = jax.process_index() == 0
    if primary:
        _write(control / f"ready.{tag}", {"memory": memory, "processes": jax.process_count(),
                                           "devices": jax.device_count(), "host_fed": trainer.host_fed})
    for r in range(rounds):
        _wait_for(control / f"go.{tag}.{r}")
        start = time.perf_counter()
        for _ in range(calls):
            state, _, _ = trainer.dispatch(state, step, n)
            step += n
        jax.block_until_ready(state)
        seconds = (time.perf_counter() - start) / calls
        if primary:
            _write(control / f"done.{tag}.{r}", seconds)


def _start(name: str, control: pathlib.Path, rounds: int, calls: int) -> subprocess.Popen:
    processes, devices, _ = LAYOUTS[name]
    me = [sys.executable, "-m", "benchmarks.distributed_layouts", "--worker", name, "--control", str(control),
          "--rounds", str(rounds), "--calls", str(calls)]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if processes == 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        return subprocess.Popen(me, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    launcher = [sys.executable, "-m", "genjax.launch", "--processes", str(processes), "--devices-per-process",
                str(devices), "--"]
    return subprocess.Popen(launcher + me, cwd=REPO, env=env, stdout=subprocess.DEVNULL)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--worker")
    p.add_argument("--control")
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, pathlib.Path(args.control), args.rounds, args.calls)
        return
    names = list(LAYOUTS)
    with tempfile.TemporaryDirectory() as tmp:
        control = pathlib.Path(tmp)
        procs = [_start(name, control, args.rounds, args.calls) for name in names]
        try:
            ready = {}
            for name in names:
                path = control / f"ready.{name.replace(' ', '_')}"
                _wait_for(path, procs)
                ready[name] = json.loads(path.read_text())
            load_before = os.getloadavg()
            seconds = {name: [] for name in names}
            for r in range(args.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    tag = name.replace(" ", "_")
                    (control / f"go.{tag}.{r}").touch()
                    done = control / f"done.{tag}.{r}"
                    _wait_for(done, procs)
                    seconds[name].append(json.loads(done.read_text()))
            load_after = os.getloadavg()
            for proc in procs:
                proc.wait(timeout=600)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
    comparison = Comparison(names, "1x8", args.calls, seconds, load_before, load_after)
    overhead = {}
    for base in ("1x8 host-fed", "1x8"):
        for name in names:
            if name != base:
                ratios = np.asarray(seconds[name]) / np.asarray(seconds[base])
                overhead[f"{name} / {base}"] = _summary(ratios.tolist())
    config = bench_config()
    work = (f"one dispatch of {config.train.steps_per_dispatch} steps of experiments/diffusion_digits.py "
            f"(score_sde, TimeMLP {config.model.hidden}, batch {config.data.batch_size}, adam) on 8 CPU devices; "
            f"layout = processes x devices per process")
    report("distributed_layouts", comparison, work=work,
           extra={"memory_per_device": {n: ready[n]["memory"] for n in names}, "time_ratio": overhead,
                  "layouts": {n: ready[n] for n in names}})
    print("\ntime per dispatch relative to another layout (median of per-round ratios [q25, q75]):")
    for key, s in overhead.items():
        print(f"  {key:<26} {s['median']:.3f} [{s['q25']:.3f}, {s['q75']:.3f}]")
    print("\nmemory per device (XLA memory analysis of the compiled dispatch, MiB):")
    for n in names:
        m = ready[n]["memory"]
        print(f"  {n:<14} state {m['state'] / 2**20:.2f}  arguments {m['arguments'] / 2**20:.2f}  "
              f"outputs {m['outputs'] / 2**20:.2f}  temp {m['temp'] / 2**20:.2f}")


if __name__ == "__main__":
    main()
