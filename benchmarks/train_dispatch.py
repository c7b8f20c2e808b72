"""Dispatch overhead of the genjax train step, measured with the interleaved harness.

    python -m benchmarks.train_dispatch

Two comparisons, each side doing the same number of optimiser steps per block:

1. ``steps_per_dispatch``: k = 1, 10, 100 steps per jitted call (the batch drawn inside the
   program), for a small MLP (dispatch-bound) and a large one (arithmetic-bound).
2. Overhead of the trainer: ``Trainer.run`` against calling its compiled program directly, and
   against a minimal hand-written jitted loop doing the same work (the same flow-matching loss,
   adam, the same in-program batch draw ``dataset.train_batch(key, step)``, steps under
   ``lax.scan``) but none of the trainer's extras (EMA, gradient norm, the in-program finiteness
   check). Ratios > 1 mean faster than the minimal loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax

from benchmarks.harness import compare, report
from genjax import train
from genjax.config import default_config


def _config(hidden, batch, k) -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "moons"
    c.data.batch_size = batch
    c.model = ml_collections.ConfigDict({"name": "flow_matching", "hidden": hidden, "time_dim": 64})
    c.train.progress = False
    c.train.steps_per_dispatch = k
    return c


def _stepper(trainer: train.Trainer, k: int):
    holder = {"state": trainer.init(), "step": 0}

    def go():
        holder["state"], m = trainer.run(holder["state"], holder["step"], k)
        holder["step"] += k
        jax.block_until_ready(m)

    return go


def steps_per_dispatch(steps: int = 100, rounds: int = 7) -> dict:
    out = {}
    for hidden, batch in (((64, 64, 64), 256), ((256, 256, 256), 512)):
        sides = {}
        for k in (100, 10, 1):
            sides[f"k={k}"] = _stepper(train.Trainer.from_config(_config(hidden, batch, k)), k)
        # one block = `steps` optimiser steps on every side
        blocks = {name: (lambda fn=fn, n=steps // int(name[2:]): [fn() for _ in range(n)]) for name, fn in sides.items()}
        out[f"MLP {'x'.join(map(str, hidden))}, batch {batch}: {steps} steps per block"] = compare(
            blocks, calls_per_block=1, rounds=rounds, baseline="k=1")
    return out


def _minimal_loop(trainer: train.Trainer, k: int):
    """A hand-written jitted loop: the trainer's loss and data draw, adam, nothing else."""
    model, dataset, batch_size = trainer.model, trainer.dataset, trainer.batch_size
    tx = optax.adam(trainer.config.train.lr)
    key = trainer._data_keys
    params = jax.tree_util.tree_map(jnp.copy, trainer.init().params)

    def run(params, opt_state, step):
        def body(carry, _):
            p, o, s = carry
            batch = dataset.train_batch(key, s, batch_size)
            loss, grads = jax.value_and_grad(lambda p: model.loss(p, batch, jax.random.fold_in(key, s))[0])(p)
            updates, o = tx.update(grads, o, p)
            return (optax.apply_updates(p, updates), o, s + 1), loss

        return jax.lax.scan(body, (params, opt_state, step), None, length=k)

    fn = jax.jit(run, donate_argnums=(0, 1))
    holder = {"carry": (params, tx.init(params), jnp.int32(0))}

    def go():
        holder["carry"], loss = fn(*holder["carry"])
        jax.block_until_ready(loss)

    return go


def _direct(trainer: train.Trainer, k: int):
    fn = trainer._compile(k)
    keys = trainer._data_keys
    holder = {"state": trainer.init()}

    def go():
        holder["state"], m, _ = fn(holder["state"], keys)
        jax.block_until_ready(m)

    return go


def trainer_overhead(rounds: int = 9) -> dict:
    out = {}
    for k in (1, 100):
        trainer = train.Trainer.from_config(_config((64, 64, 64), 256, k))
        sides = {"Trainer.run": _stepper(trainer, k), "compiled program": _direct(trainer, k),
                 "minimal loop": _minimal_loop(trainer, k)}
        out[f"flow matching 64x64x64, batch 256, {k} step(s) per call"] = compare(
            sides, calls_per_block=max(2, 200 // k), rounds=rounds, baseline="minimal loop")
    return out


def main() -> None:
    results = {**steps_per_dispatch(), **trainer_overhead()}
    report("train_dispatch", results,
           work="flow-matching train steps on moons (adam); equal optimiser steps per block on every side")


if __name__ == "__main__":
    main()
