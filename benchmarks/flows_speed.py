"""Training throughput of RealNVP and a spline coupling flow on 2-D data: genjax vs flowjax vs zuko.

    pip install -e '.[bench-flows]'      # flowjax, zuko and a CPU torch (optional)
    python -m benchmarks.flows_speed

Same model in each library: 8 coupling layers on 2-D data, each conditioned by an MLP with two
hidden layers of 64 ReLU units; RealNVP has affine transformers, the spline flow rational-
quadratic splines with 8 bins on [-4, 4] (flowjax's interval, zuko's is fixed at [-5, 5]).
Adam, batch 256 of ``8gaussians``, maximum likelihood. Parameter counts are printed (they differ
only through each library's conditioner layout). A library that is not installed is skipped.

Each row is steps per second of a library's own training path, measured in one process. The
rows are timed in turns, ``--rounds`` times over, and each keeps its best round: on a shared
machine other processes only ever slow a measurement down.

- genjax ``k=1``: ``Trainer.run`` with one step per dispatch (the batch drawn inside the program);
  ``k=100``: ``train.steps_per_dispatch = 100`` (100 steps in one ``lax.scan``), genjax's default
  way to train small models.
- flowjax ``k=1``: its ``fit_to_data`` step (``eqx.filter_jit``, one call per step, batches from an
  array on the device); ``k=100``: the same step under ``lax.scan`` (not something flowjax offers,
  shown so the scan's gain is not mistaken for the library's).
- zuko: a PyTorch training step in eager mode on one thread (``torch.set_num_threads(1)``; on two
  busy cores two threads ran 100 times slower, spinning on each other).
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from benchmarks.common import report
from genjax import train
from genjax.config import default_config

LAYERS, WIDTH, BATCH, BINS, INTERVAL, LR = 8, 64, 256, 8, 4.0, 1e-3


def _count(tree) -> int:
    return int(sum(np.size(a) for a in jax.tree_util.tree_leaves(tree)))


def _data(n=BATCH * 200) -> np.ndarray:
    from genjax.data import get_dataset

    return np.asarray(get_dataset("8gaussians").sample(jax.random.key(1), n)["x"])


# ---------------------------------------------------------------------------------------------


def genjax_rows(kind: str) -> list:
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
    trainer = train.Trainer.from_config(c)
    rows = []
    for k in (1, 100):
        holder = {"state": trainer.init()}

        def go(k=k, holder=holder):
            holder["state"], m = trainer.run(holder["state"], 0, k)
            jax.block_until_ready(m)

        params = _count(holder["state"].params["params"])
        rows.append(({"model": kind, "library": "genjax", "dispatch": f"k={k}", "params": params}, go, k))
    return rows


def flowjax_rows(kind: str) -> list:
    if importlib.util.find_spec("flowjax") is None:
        return [({"model": kind, "library": "flowjax", "dispatch": "-", "note": "not installed"}, None, 0)]
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
    row = {"model": kind, "library": "flowjax", "params": _count(params)}

    # k = 1: flowjax's own training step, one call per step.
    holder = {"params": params, "opt": optimizer.init(params), "i": 0}

    def one():
        i = holder["i"] % nb
        holder["i"] += 1
        holder["params"], holder["opt"], loss = step(
            holder["params"], static, data[i * BATCH : (i + 1) * BATCH], optimizer=optimizer,
            opt_state=holder["opt"], loss_fn=loss_fn, key=jax.random.key(i))
        jax.block_until_ready(loss)

    # k = 100: the same step scanned (not part of flowjax; shown for a like-for-like comparison).
    def scanned(p, o, batches):
        def body(carry, batch):
            p, o = carry
            loss, grads = eqx.filter_value_and_grad(loss_fn)(p, static, batch, key=jax.random.key(0))
            updates, o = optimizer.update(grads, o, params=p)
            return (eqx.apply_updates(p, updates), o), loss

        return jax.lax.scan(body, (p, o), batches)

    scanned = jax.jit(scanned)
    batches = data[: 100 * BATCH].reshape(100, BATCH, 2)
    carry = {"value": (params, optimizer.init(params))}

    def hundred():
        carry["value"], losses = scanned(*carry["value"], batches)
        jax.block_until_ready(losses)

    return [({**row, "dispatch": "k=1"}, one, 1), ({**row, "dispatch": "k=100 (scan)"}, hundred, 100)]


def zuko_rows(kind: str) -> list:
    if importlib.util.find_spec("zuko") is None or importlib.util.find_spec("torch") is None:
        return [({"model": kind, "library": "zuko", "dispatch": "-", "note": "not installed"}, None, 0)]
    import torch
    import zuko

    torch.set_num_threads(1)
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

    def one():
        i = holder["i"] % nb
        holder["i"] += 1
        loss = -flow().log_prob(data[i * BATCH : (i + 1) * BATCH]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    params = sum(p.numel() for p in flow.parameters())
    return [({"model": kind, "library": "zuko", "dispatch": "eager, 1 thread", "params": params}, one, 1)]


def _rate(go, steps_per_call: int, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        go()
        n += 1
    return n * steps_per_call / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per row and round")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    runners = [r for kind in ("realnvp", "spline") for fn in (genjax_rows, flowjax_rows, zuko_rows) for r in fn(kind)]
    for row, go, _ in runners:  # compile / warm up
        if go is not None:
            start = time.perf_counter()
            go()
            row["first call s"] = time.perf_counter() - start
    for _ in range(args.rounds):
        for row, go, k in runners:
            if go is not None:
                row["steps/s"] = max(row.get("steps/s", 0.0), _rate(go, k, args.seconds))
    rows = [row for row, _, _ in runners]
    for kind in ("realnvp", "spline"):
        base = next(r["steps/s"] for r in rows if r["model"] == kind and r["library"] == "genjax" and r["dispatch"] == "k=1")
        for r in rows:
            if r["model"] == kind and r.get("steps/s"):
                r["vs genjax k=1"] = r["steps/s"] / base
    report("flows_speed", rows, ["model", "library", "dispatch", "params", "steps/s", "vs genjax k=1", "first call s", "note"])


if __name__ == "__main__":
    main()
