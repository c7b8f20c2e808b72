"""Scaling of the train step: data-parallel devices at a fixed per-device batch, and batch size.

    python -m benchmarks.scaling                  # 1, 2, 4, 8 devices (forced CPU devices) and batch sizes
    python -m benchmarks.scaling --model ddpm     # another registered model on moons

Data parallel: one process with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (set
before JAX starts; on a GPU/TPU host the real devices are used instead), the trainer compiled for
meshes over the first 1, 2, 4 and 8 devices with the batch split on the ``data`` axis, the
per-device batch fixed (so the global batch grows with the devices). Batch size: one device,
global batch 64 ... 4096. Both with the interleaved harness (``benchmarks/harness.py``), one
block = ``--steps`` optimiser steps run as one dispatch (the batch drawn inside the program).

On a CPU the forced devices share the machine's cores, so time per step grows with the device
count at fixed per-device batch (more total work on the same cores): the table measures the
sharded program's cost per example and its overhead, not a speed-up. The JSON records the
backend and device kind, so a GPU or TPU run is labelled as such.
"""

from __future__ import annotations

import os

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import argparse

import jax
import ml_collections

from benchmarks.harness import compare, report
from genjax import registry, train
from genjax.config import default_config


def _config(model: str, batch: int, steps: int) -> ml_collections.ConfigDict:
    entry = registry.entry(model)
    c = default_config()
    c.data.name = "moons"
    c.data.batch_size = batch
    c.model = ml_collections.ConfigDict({"name": model, "hidden": (256, 256, 256)} if model == "flow_matching"
                                        else {"name": model, **entry.tiny})
    c.train.steps_per_dispatch = steps
    c.train.progress = False
    return c


def _block(trainer: train.Trainer, steps: int):
    holder = {"state": trainer.init(), "step": 0}

    def go():
        holder["state"], m = trainer.run(holder["state"], holder["step"], steps)
        holder["step"] += steps
        jax.block_until_ready(m)

    return go


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="flow_matching")
    p.add_argument("--per-device-batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="optimiser steps per timed block (one dispatch)")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    devices = jax.devices()
    counts = [n for n in (1, 2, 4, 8) if n <= len(devices)]
    sides = {}
    for n in counts:
        config = _config(args.model, args.per_device_batch * n, args.steps)
        trainer = train.Trainer.from_config(config, mesh=train.make_mesh(devices[:n]))
        sides[f"{n} device(s), batch {args.per_device_batch * n}"] = _block(trainer, args.steps)
    data_parallel = compare(sides, calls_per_block=1, rounds=args.rounds, baseline=next(iter(sides)))
    sides = {}
    for batch in (64, 256, 1024, 4096):
        trainer = train.Trainer.from_config(_config(args.model, batch, args.steps), mesh=train.make_mesh(devices[:1]))
        sides[f"batch {batch}"] = _block(trainer, args.steps)
    batch_size = compare(sides, calls_per_block=1, rounds=args.rounds, baseline="batch 64")
    kind = f"{jax.default_backend()} ({devices[0].device_kind}), {len(devices)} devices"
    report(f"scaling_{args.model}", {
        f"data parallel, {args.per_device_batch} examples per device ({kind})": data_parallel,
        f"batch size, one device ({kind})": batch_size,
    }, work=f"{args.steps} {args.model} train steps on moons per block (adam, batch drawn in the program)")


if __name__ == "__main__":
    main()
