"""genjax flow matching next to torchcfm on the same CPU: training throughput and OT-CFM quality.

    pip install torch --index-url https://download.pytorch.org/whl/cpu    # a CPU-only torch first
    pip install -e '.[bench-fm]' && pip install --no-deps torchcfm        # see docs/performance.md
    python -m benchmarks.fm_torchcfm --speed
    python -m benchmarks.fm_torchcfm --quality --tasks 8gaussians_moons,moons

Same task definition on both sides (``experiments.fm_common.cfm_config``): torchcfm's 2-D
MLP (``torchcfm.models.MLP(dim=2, w=64, time_varying=True)``, three SELU layers of 64), batch
256, Adam at a constant 1e-3, sigma = 0.1. The torch loop is written against torchcfm's
library API (``ConditionalFlowMatcher`` / ``ExactOptimalTransportConditionalFlowMatcher``
``.sample_location_and_conditional_flow``).

Speed: the interleaved harness (``benchmarks/harness.py``); one block is 100 optimiser steps on
every side. torch reads pre-drawn batches (drawn before the timer); genjax draws its batches
inside the compiled program (that work is inside its time). torch runs in this process with
``OMP_WAIT_POLICY=PASSIVE`` (set before torch loads) so its idle OpenMP threads do not spin
while JAX runs, at one thread and at two. genjax OT-CFM is timed with the exact host coupling
(the reference, POT's network simplex or scipy's assignment, through ``jax.pure_callback``)
and with the device coupling (epsilon-scaled Sinkhorn, ``otcfm_sinkhorn``).

Quality: the trained torch weights are loaded into genjax's ``ConcatMLP`` (the same layers)
and every model is evaluated by the same code, ``genjax.train.evaluate``: W2 by exact OT of
2000 vs 2000 points averaged over ``eval.repeats`` draws with standard errors, the W2 floor, and
NPE from the same ODE solve. genjax runs are read from ``runs/<method>_<task>`` (trained first
when absent). Without torchcfm installed the torch rows are skipped.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported anywhere



import argparse
import pathlib
import time

import jax
import numpy as np

from benchmarks.common import report
from benchmarks.harness import compare
from benchmarks.harness import report as harness_report
from experiments.fm_common import TASKS, cfm_config
from genjax import train


def _torchcfm():
    try:
        import torch
        import torchcfm  # noqa: F401
    except ImportError:
        return None
    return torch


def _data(task: str, steps: int, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pre-drawn ``(x0, x1) [steps, batch, 2]`` from the genjax datasets (source and target)."""
    from genjax.data import get_dataset

    source, target = TASKS[task]
    key = jax.random.key(seed)

    @jax.jit
    def draw(i):
        k = jax.random.fold_in(key, i)
        x1 = get_dataset(target).sample(jax.random.fold_in(k, 1), batch)["x"]
        if source == "gaussian":
            x0 = jax.random.normal(jax.random.fold_in(k, 0), (batch, 2))
        else:
            x0 = get_dataset(source).sample(jax.random.fold_in(k, 0), batch)["x"]
        return x0, x1

    x0, x1 = jax.device_get(jax.lax.map(draw, np.arange(steps)))
    return np.asarray(x0), np.asarray(x1)


def torch_train(torch, method: str, x0: np.ndarray, x1: np.ndarray, *, sigma: float = 0.1, lr: float = 1e-3,
                seed: int = 0):
    """torchcfm's training loop: returns ``(model, seconds per step)``."""
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
    )
    from torchcfm.models.models import MLP

    torch.manual_seed(seed)
    np.random.seed(seed)  # torchcfm's OT plan sampler draws from numpy's global generator
    matcher = (ExactOptimalTransportConditionalFlowMatcher if method == "otcfm" else ConditionalFlowMatcher)(sigma=sigma)
    model = MLP(dim=2, w=64, time_varying=True)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x0_all, x1_all = torch.from_numpy(np.array(x0)), torch.from_numpy(np.array(x1))
    start = time.perf_counter()
    for i in range(x0.shape[0]):
        opt.zero_grad()
        t, xt, ut = matcher.sample_location_and_conditional_flow(x0_all[i], x1_all[i])
        vt = model(torch.cat([xt, t[:, None]], dim=-1))
        loss = torch.mean((vt - ut) ** 2)
        loss.backward()
        opt.step()
    return model, (time.perf_counter() - start) / x0.shape[0]


def torch_to_flax(model) -> dict:
    """torchcfm ``MLP`` weights as ``ConcatMLP`` params (Linear ``W`` is ``Dense`` kernel ``W.T``)."""
    linears = [m for m in model.net if hasattr(m, "weight")]
    return {"params": {f"Dense_{i}": {"kernel": m.weight.detach().numpy().T.copy(), "bias": m.bias.detach().numpy().copy()}
                       for i, m in enumerate(linears)}}


BLOCK_STEPS = 100  # optimiser steps per timed block, on every side


def torch_block(torch, method: str, threads: int, *, sigma: float = 0.1, lr: float = 1e-3, seed: int = 0):
    """A function running ``BLOCK_STEPS`` torchcfm steps on pre-drawn batches."""
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
    )
    from torchcfm.models.models import MLP

    torch.manual_seed(seed)
    np.random.seed(seed)
    matcher = (ExactOptimalTransportConditionalFlowMatcher if method == "otcfm" else ConditionalFlowMatcher)(sigma=sigma)
    model = MLP(dim=2, w=64, time_varying=True)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x0, x1 = _data("moons", BLOCK_STEPS, 256)
    x0, x1 = torch.from_numpy(x0.copy()), torch.from_numpy(x1.copy())

    def block():
        torch.set_num_threads(threads)
        for i in range(BLOCK_STEPS):
            opt.zero_grad()
            t, xt, ut = matcher.sample_location_and_conditional_flow(x0[i], x1[i])
            loss = torch.mean((model(torch.cat([xt, t[:, None]], dim=-1)) - ut) ** 2)
            loss.backward()
            opt.step()

    return block


def genjax_block(method: str, steps_per_dispatch: int):
    """A function running ``BLOCK_STEPS`` genjax trainer steps, ``steps_per_dispatch`` per call."""
    config = cfm_config(method, "moons")
    config.train.steps_per_dispatch = steps_per_dispatch
    trainer = train.Trainer.from_config(config)
    holder = {"state": trainer.init(), "step": 0}

    def block():
        for _ in range(BLOCK_STEPS // steps_per_dispatch):
            holder["state"], m = trainer.run(holder["state"], holder["step"], steps_per_dispatch)
            holder["step"] += steps_per_dispatch
        jax.block_until_ready(m)

    return block


def speed(args) -> None:
    torch = _torchcfm()
    results = {}
    for method, genjax_methods in (("icfm", ("icfm",)), ("otcfm", ("otcfm", "otcfm_sinkhorn"))):
        sides = {}
        for gm in genjax_methods:
            for k in (1, BLOCK_STEPS):
                sides[f"genjax {gm}, {k} step(s)/call"] = genjax_block(gm, k)
        if torch is not None:
            for threads in (2, 1):
                sides[f"torchcfm {method}, {threads} thread(s)"] = torch_block(torch, method, threads)
        baseline = f"torchcfm {method}, 1 thread(s)" if torch is not None else None
        results[f"{method}: {BLOCK_STEPS} steps per block"] = compare(
            sides, calls_per_block=1, rounds=args.rounds, baseline=baseline)
        if torch is not None:
            torch.set_num_threads(1)
    harness_report("fm_torchcfm_speed", results, packages=("torch", "torchcfm", "pot"),
                   work=f"{BLOCK_STEPS} flow-matching steps of the 3x64 SELU MLP on [x, t], batch 256, adam, "
                        "N(0, I) -> moons; torch on pre-drawn batches, genjax drawing them in the program")


def quality(args) -> None:
    from genjax.train import evaluate

    torch = _torchcfm()
    if torch is not None:
        torch.set_num_threads(1)  # the faster setting for this net on this CPU (see --speed)
    rows = []
    for task in args.tasks.split(","):
        evaluated = []
        for method in ("otcfm", "otcfm_sinkhorn"):
            config = cfm_config(method, task)
            config.eval.repeats = args.repeats
            workdir = pathlib.Path(args.runs) / f"{method}_{task}"
            if not (workdir / "checkpoints").exists():
                print(f"training {workdir} (python -m experiments.{method}_{task})")
                train.train_and_evaluate(config, workdir)
            trainer, state, step = train.restore_for_eval(config, workdir)
            evaluated.append((f"genjax {method}", trainer.eval_params(state)[0], step, None))
        config = cfm_config("otcfm", task)
        config.eval.repeats = args.repeats
        if torch is not None:
            x0, x1 = _data(task, config.train.steps, config.data.batch_size)
            model, sec = torch_train(torch, "otcfm", x0, x1, sigma=config.model.sigma, lr=config.train.lr)
            evaluated.append(("torchcfm", torch_to_flax(model), config.train.steps, 1 / sec))
        for impl, params, step, rate in evaluated:
            res = evaluate(trainer.model, params, trainer.dataset, config.eval)
            rows.append({
                "task": task, "impl": impl, "steps": step, "train_steps_per_sec": rate,
                "w2": res["w2/default"], "w2_stderr": res["w2_stderr/default"], "w2_floor": res["w2_floor"],
                "nfe": res["nfe/default"], "npe": res["npe"], "path_energy": res["path_energy"],
                "w2_euler1": res["w2/euler@1"], "w2_euler4": res["w2/euler@4"], "repeats": args.repeats,
            })
    report("fm_torchcfm_quality", rows, ["task", "impl", "w2", "w2_stderr", "w2_floor", "nfe", "npe", "path_energy",
                                         "w2_euler1", "w2_euler4"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--speed", action="store_true")
    p.add_argument("--quality", action="store_true")
    p.add_argument("--rounds", type=int, default=7, help="interleaved blocks per side (--speed)")
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--runs", default="runs")
    args = p.parse_args()
    if not (args.speed or args.quality):
        args.speed = True
    if _torchcfm() is None:
        print("torchcfm is not installed (pip install -e '.[bench-fm]'): torchcfm rows skipped")
    if args.speed:
        speed(args)
    if args.quality:
        quality(args)


if __name__ == "__main__":
    main()
