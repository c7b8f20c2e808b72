"""Training throughput of RealNVP and a spline coupling flow on 2-D data: genjax vs flowjax vs zuko.

    pip install -e '.[bench-flows]'      # flowjax, zuko (after a CPU-only torch: docs/performance.md)
    python -m benchmarks.flows_speed

Same model in each library: 8 coupling layers on 2-D data, each conditioned by an MLP with two
hidden layers of 64 ReLU units; RealNVP has affine transformers, the spline flow rational-
quadratic splines with 8 bins on [-4, 4] (flowjax's interval, zuko's is fixed at [-5, 5]).
Adam, batch 256 of ``8gaussians``, maximum likelihood. Parameter counts are printed (they differ
only through each library's conditioner layout). A library that is not installed is skipped.

Timed with the interleaved harness (``benchmarks/harness.py``): one block is 100 optimiser
steps on every side, blocks alternate, medians and quartiles over blocks. Three comparisons
per model, each of equal work:

- one step per call: genjax ``Trainer.run`` (batch drawn inside the program), flowjax's own
  ``fit_to_data`` step (``eqx.filter_jit``, batches sliced from an array on the device), zuko in
  eager PyTorch on one thread;
- 100 steps per call, batches drawn inside the program: genjax's trainer with
  ``train.steps_per_dispatch = 100`` against flowjax's step under the same ``lax.scan`` drawing
  the same ``8gaussians`` batches in the program (flowjax itself offers no scanned loop);
- 100 steps per call on pre-drawn batches: genjax's step (its loss, adam) and flowjax's step,
  each under ``lax.scan`` over the same ``[100, 256, 2]`` array.
"""

from __future__ import annotations

import argparse
import importlib.util

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from benchmarks.harness import compare, report
from genjax import train
from genjax.config import default_config

LAYERS, WIDTH, BATCH, BINS, INTERVAL, LR = 8, 64, 256, 8, 4.0, 1e-3
STEPS = 100  # optimiser steps per timed block


def _count(tree) -> int:
    return int(sum(np.size(a) for a in jax.tree_util.tree_leaves(tree)))


def _data(n=BATCH * 200) -> np.ndarray:
    from genjax.data import get_dataset

    return np.asarray(get_dataset("8gaussians").sample(jax.random.key(1), n)["x"])


# ---------------------------------------------------------------------------------------------


def _genjax_trainer(kind: str, k: int) -> train.Trainer:
    c = default_config()
    c.data.name = "8gaussians"
    c.data.batch_size = BATCH
    model = {"name": "realnvp", "permute": "reverse"} if kind == "realnvp" else {
        "name": "nsf", "num_bins": BINS, "bound": INTERVAL, "permute": "reverse"}
    c.model = ml_collections.ConfigDict({**model, "num_layers": LAYERS, "hidden": (WIDTH, WIDTH)})
    c.train.lr = LR
    c.train.schedule = "constant"
    c.train.ema_decay = 0.0
    c.train.progress = False
    c.train.steps_per_dispatch = k
    return train.Trainer.from_config(c)


def _block(call, calls: int):
    """``calls`` calls of ``call`` (each returning something to block on)."""
    def block():
        for _ in range(calls):
            out = call()
        jax.block_until_ready(out)

    return block


def _in_program_batches():
    from genjax.data import get_dataset

    dataset = get_dataset("8gaussians")
    return lambda key, step: dataset.train_batch(key, step, BATCH)["x"]


def genjax_sides(kind: str) -> tuple[dict, dict]:
    """``(sides, params)``: the genjax side of each comparison."""
    sides = {}
    for k in (1, STEPS):
        trainer = _genjax_trainer(kind, k)
        holder = {"state": trainer.init(), "step": 0}

        def call(trainer=trainer, holder=holder, k=k):
            holder["state"], m = trainer.run(holder["state"], holder["step"], k)
            holder["step"] += k
            return m

        sides["1 step/call" if k == 1 else "drawn in program"] = _block(call, STEPS // k)
    trainer = _genjax_trainer(kind, 1)
    model, tx = trainer.model, optax.adam(LR)
    params = trainer.init().params

    def scanned(p, o, batches):
        def body(carry, batch):
            p, o = carry
            loss, grads = jax.value_and_grad(lambda p: model.loss(p, {"x": batch}, jax.random.key(0))[0])(p)
            updates, o = tx.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), loss

        return jax.lax.scan(body, (p, o), batches)

    scanned = jax.jit(scanned, donate_argnums=(0, 1))
    batches = jnp.asarray(_data(STEPS * BATCH)).reshape(STEPS, BATCH, 2)
    carry = {"value": (jax.tree_util.tree_map(jnp.copy, params), tx.init(params))}

    def predrawn():
        carry["value"], losses = scanned(*carry["value"], batches)
        return losses

    sides["pre-drawn"] = _block(predrawn, 1)
    return sides, {"genjax": _count(params["params"])}


def flowjax_sides(kind: str) -> tuple[dict, dict]:
    if importlib.util.find_spec("flowjax") is None:
        return {}, {}
    import equinox as eqx
    import paramax
    from flowjax.bijections import Affine, RationalQuadraticSpline
    from flowjax.distributions import Normal
    from flowjax.flows import coupling_flow
    from flowjax.train.losses import MaximumLikelihoodLoss
    from flowjax.train.train_utils import step

    transformer = Affine() if kind == "realnvp" else RationalQuadraticSpline(knots=BINS, interval=INTERVAL)
    flow = coupling_flow(jax.random.key(0), base_dist=Normal(jnp.zeros(2)), transformer=transformer,
                         flow_layers=LAYERS, nn_width=WIDTH, nn_depth=2)
    params, static = eqx.partition(flow, eqx.is_inexact_array, is_leaf=lambda x: isinstance(x, paramax.NonTrainable))
    optimizer = optax.adam(LR)
    loss_fn = MaximumLikelihoodLoss()
    data = jnp.asarray(_data())
    nb = data.shape[0] // BATCH
    sides = {}

    # one step per call: flowjax's own training step
    holder = {"params": params, "opt": optimizer.init(params), "i": 0}

    def one():
        i = holder["i"] % nb
        holder["i"] += 1
        holder["params"], holder["opt"], loss = step(
            holder["params"], static, data[i * BATCH : (i + 1) * BATCH], optimizer=optimizer,
            opt_state=holder["opt"], loss_fn=loss_fn, key=jax.random.key(i))
        return loss

    sides["1 step/call"] = _block(one, STEPS)

    def update(p, o, batch):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(p, static, batch, key=jax.random.key(0))
        updates, o = optimizer.update(grads, o, params=p)
        return eqx.apply_updates(p, updates), o, loss

    draw = _in_program_batches()
    data_key = jax.random.key(0)

    @jax.jit
    def drawn(p, o, start):
        def body(carry, i):
            p, o = carry
            p, o, loss = update(p, o, draw(data_key, start + i))
            return (p, o), loss

        return jax.lax.scan(body, (p, o), jnp.arange(STEPS))

    @jax.jit
    def predrawn(p, o, batches):
        def body(carry, batch):
            p, o, loss = update(*carry, batch)
            return (p, o), loss

        return jax.lax.scan(body, (p, o), batches)

    batches = data[: STEPS * BATCH].reshape(STEPS, BATCH, 2)
    c1 = {"value": (params, optimizer.init(params)), "step": 0}
    c2 = {"value": (params, optimizer.init(params))}

    def in_program():
        c1["value"], losses = drawn(*c1["value"], c1["step"])
        c1["step"] += STEPS
        return losses

    def on_array():
        c2["value"], losses = predrawn(*c2["value"], batches)
        return losses

    sides["drawn in program"] = _block(in_program, 1)
    sides["pre-drawn"] = _block(on_array, 1)
    return sides, {"flowjax": _count(params)}


def zuko_sides(kind: str) -> tuple[dict, dict]:
    if importlib.util.find_spec("zuko") is None or importlib.util.find_spec("torch") is None:
        return {}, {}
    import torch
    import zuko

    torch.manual_seed(0)
    hidden = (WIDTH, WIDTH)
    if kind == "realnvp":
        flow = zuko.flows.RealNVP(2, transforms=LAYERS, hidden_features=hidden)
    else:  # coupling NSF: a MADE with two passes is a coupling layer
        flow = zuko.flows.NSF(2, transforms=LAYERS, bins=BINS, hidden_features=hidden, passes=2)
    opt = torch.optim.Adam(flow.parameters(), lr=LR)
    data = torch.from_numpy(_data().copy())
    nb = data.shape[0] // BATCH
    holder = {"i": 0}

    def block():
        torch.set_num_threads(1)  # on two busy cores two threads ran far slower, spinning
        for _ in range(STEPS):
            i = holder["i"] % nb
            holder["i"] += 1
            loss = -flow().log_prob(data[i * BATCH : (i + 1) * BATCH]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    return {"1 step/call": block}, {"zuko": sum(p.numel() for p in flow.parameters())}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7, help="interleaved blocks per side")
    args = p.parse_args()
    results, counts = {}, {}
    for kind in ("realnvp", "spline"):
        per_lib = {"genjax": genjax_sides(kind), "flowjax": flowjax_sides(kind), "zuko": zuko_sides(kind)}
        counts[kind] = {k: v for _, (_, c) in per_lib.items() for k, v in c.items()}
        for mode in ("1 step/call", "drawn in program", "pre-drawn"):
            sides = {f"{lib} ({mode})": s[mode] for lib, (s, _) in per_lib.items() if mode in s}
            if len(sides) < 2:
                print(f"{kind}, {mode}: only genjax installed; skipped")
                continue
            results[f"{kind}: {mode}, {STEPS} steps per block"] = compare(
                sides, calls_per_block=1, rounds=args.rounds, baseline=next(n for n in sides if n.startswith("flowjax")))
    print("parameters:", counts)
    report("flows_speed", results, packages=("flowjax", "equinox", "zuko", "torch"),
           work=f"{STEPS} maximum-likelihood adam steps of an 8-layer coupling flow (2x64 ReLU conditioners), "
                "batch 256 of 8gaussians", extra={"parameters": counts})


if __name__ == "__main__":
    main()
