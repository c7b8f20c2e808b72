"""FFJORD speed: time per training iteration and NFE, exact vs Hutchinson; log-det cost vs dimension.

    python -m benchmarks.cnf_speed                       # both tables
    python -m benchmarks.cnf_speed --only train --workdir runs/ffjord_8gaussians
    python -m benchmarks.cnf_speed --only logdet

Training table: one jitted training iteration (loss, gradient through the dopri5 solve at
rtol = atol = 1e-5, adamw update) of FFJORD's toy model (concatsquash 64-64-64, tanh) on
8gaussians at batch 100 and 512, exact trace vs Hutchinson, RecursiveCheckpointAdjoint vs
BacksolveAdjoint. The NFE depends on the parameters, so the parameters come from a trained
run's checkpoint (``--workdir``, e.g. ``python -m experiments.ffjord_toy``; the iteration is
recorded) when there is one, else from the initialisation; every configuration is timed on the
same parameters and batch, interleaved, in one process, so the ratios are comparable even on a
shared machine (``benchmarks/harness.py``: medians over interleaved blocks). ``nfe`` is the forward solve's count (the backward pass of the recursive
checkpoint adjoint re-evaluates each step once more; backsolve runs its own adaptive solve).
``ms_per_nfe`` = time / forward NFE. The side-by-side with a PyTorch implementation run on
the same machine is ``benchmarks/cnf_torch_reference.py``.

Log-det table: one evaluation of ``(f(x), tr df/dx)`` at batch 1024 for a ConcatSquash field of
width 16-16 as the dimension D grows from 2 to 256: the exact trace costs D forward-mode
products (~D field evaluations, each O(D) once D exceeds the width: ~D^2), Hutchinson one
vector-Jacobian product (~2 field evaluations: ~D). Slopes are log-log fits over D >= 32 (below
that, fixed per-call costs dominate).
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from benchmarks.common import report
from benchmarks.harness import compare
from genjax import data, registry
from genjax.ode import exact_divergence, hutchinson_divergence
from genjax.nn import ConcatSquashMLP

def _interleaved_median(fns: dict, rounds: int, calls: int) -> dict:
    """Median seconds per call over ``rounds`` interleaved blocks of ``calls`` calls (the harness)."""
    comparison = compare({str(k): fn for k, fn in fns.items()}, calls_per_block=calls, rounds=rounds, warmup=1)
    return {k: comparison.per_call(str(k))["median"] for k in fns}


def jitted_train_step(model, tx):
    """One compiled training iteration: ``(params, opt_state, batch, key) -> (params, opt_state, metrics)``."""

    @jax.jit
    def step(p, opt, batch, key):
        (_, m), g = jax.value_and_grad(model.loss, has_aux=True)(p, batch, key)
        updates, opt = tx.update(g, opt, p)
        return optax.apply_updates(p, updates), opt, m

    return step


def trained_params(workdir: pathlib.Path | None):
    """``(params, step)`` of a run's latest checkpoint, or ``(None, 0)`` when there is none."""
    if workdir is None or not (workdir / "checkpoints").exists():
        return None, 0
    from genjax import train

    config = train.read_workdir_config(workdir)
    _, state, step = train.restore_for_eval(config, workdir)
    return state.params, step


def train_table(workdir, rounds: int, calls: int) -> None:
    ds = data.get_dataset("8gaussians")
    params, step = trained_params(workdir)
    fns, nfes, rows = {}, {}, []
    for batch_size in (100, 512):
        batch = ds.train_batch(jax.random.key(0), 10_000, batch_size)
        for div in ("exact", "hutchinson"):
            for adjoint in ("recursive", "backsolve"):
                mc = ml_collections.ConfigDict({"name": "ffjord", "divergence": div, "adjoint": adjoint})
                model = registry.build_model(mc, ds)
                p = params if params is not None else model.init(jax.random.key(0), batch)
                tx = optax.adamw(1e-3, weight_decay=1e-5)
                opt = tx.init(p)
                step_fn = jitted_train_step(model, tx)
                key = jax.random.key(1)
                _, _, m = step_fn(p, opt, batch, key)  # compile
                nfes[(batch_size, div, adjoint)] = float(m["nfe"])
                fns[(batch_size, div, adjoint)] = (
                    lambda f=step_fn, p=p, o=opt, b=batch, k=key: jax.block_until_ready(f(p, o, b, k)))
    times = _interleaved_median(fns, rounds, calls)
    for (batch_size, div, adjoint), t in times.items():
        nfe = nfes[(batch_size, div, adjoint)]
        rows.append({"batch": batch_size, "divergence": div, "adjoint": adjoint, "nfe": nfe,
                     "s_per_iter": t, "ms_per_nfe": 1e3 * t / nfe, "params_step": step})
    base = {(r["batch"], r["divergence"]): r["s_per_iter"] for r in rows if r["adjoint"] == "recursive"}
    for r in rows:
        r["exact_over_hutchinson"] = base[(r["batch"], "exact")] / base[(r["batch"], "hutchinson")]
    print(f"parameters from step {step} ({'checkpoint' if params is not None else 'initialisation'})")
    report("cnf_train_speed", rows, ["batch", "divergence", "adjoint", "nfe", "s_per_iter", "ms_per_nfe",
                                     "exact_over_hutchinson"])


def logdet_table(rounds: int, calls: int, batch: int = 1024, hidden=(16, 16)) -> None:
    dims = (2, 4, 8, 16, 32, 64, 128, 256)
    fns = {}
    for d in dims:
        net = ConcatSquashMLP(hidden)
        x = jax.random.normal(jax.random.key(d), (batch, d))
        e = jax.random.normal(jax.random.key(d + 1), (batch, d))
        params = net.init(jax.random.key(0), x, jnp.zeros(()))
        f = lambda y, params=params, net=net: net.apply(params, y, jnp.float32(0.3))  # noqa: E731
        exact = jax.jit(lambda x, f=f: exact_divergence(f, x)[:2])
        hutch = jax.jit(lambda x, e, f=f: hutchinson_divergence(f, x, e)[:2])
        field = jax.jit(f)
        for name, fn in (("exact", lambda x=x, g=exact: g(x)), ("hutchinson", lambda x=x, e=e, g=hutch: g(x, e)),
                         ("field", lambda x=x, g=field: g(x))):
            jax.block_until_ready(fn())
            fns[(d, name)] = lambda fn=fn: jax.block_until_ready(fn())
    times = _interleaved_median(fns, rounds, calls)
    rows = []
    for d in dims:
        rows.append({"dim": d, "field_ms": 1e3 * times[(d, "field")], "exact_ms": 1e3 * times[(d, "exact")],
                     "hutchinson_ms": 1e3 * times[(d, "hutchinson")],
                     "exact_over_hutchinson": times[(d, "exact")] / times[(d, "hutchinson")]})
    big = [r for r in rows if r["dim"] >= 32]
    for name in ("field_ms", "exact_ms", "hutchinson_ms"):
        slope = np.polyfit(np.log([r["dim"] for r in big]), np.log([r[name] for r in big]), 1)[0]
        print(f"log-log slope of {name} over D >= 32: {slope:.2f}")
    report("cnf_logdet_scaling", rows, ["dim", "field_ms", "exact_ms", "hutchinson_ms", "exact_over_hutchinson"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", choices=("train", "logdet"))
    p.add_argument("--workdir", default="runs/ffjord_8gaussians")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=5)
    args = p.parse_args()
    if args.only in (None, "train"):
        train_table(pathlib.Path(args.workdir) if args.workdir else None, args.rounds, args.calls)
    if args.only in (None, "logdet"):
        logdet_table(args.rounds, 20)


if __name__ == "__main__":
    main()
