"""genjax flow matching next to torchcfm on the same CPU: training throughput and OT-CFM quality.

    pip install -e '.[bench-fm]'                         # torch (CPU) + torchcfm; optional
    python -m benchmarks.fm_torchcfm --speed              # steps/s, I-CFM and OT-CFM, batch 256
    python -m experiments.otcfm_8gaussians_moons           # genjax's OT-CFM run (runs/otcfm_<task>)
    python -m benchmarks.fm_torchcfm --quality --tasks 8gaussians_moons,moons

Same task definition on both sides (``experiments.fm_common.cfm_config``): torchcfm's 2-D
MLP (``torchcfm.models.MLP(dim=2, w=64, time_varying=True)``, three SELU layers of 64), batch
256, Adam at a constant 1e-3, 10 000 steps, sigma = 0.1, data drawn from the genjax dataset
(the torch loop reads the same pre-drawn numpy batches). The torch loop is written against
torchcfm's library API (``ConditionalFlowMatcher`` / ``ExactOptimalTransportConditionalFlowMatcher``
``.sample_location_and_conditional_flow``).

Quality: the trained torch weights are loaded into genjax's ``ConcatMLP`` (the same layers)
and both models are evaluated by the same code, ``genjax.train.evaluate``: W2 by exact OT of
2000 vs 2000 points averaged over ``eval.repeats`` draws with standard errors, the W2 floor, and
NPE from the same ODE solve. Without torchcfm installed the torch rows are skipped.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax
import numpy as np

from benchmarks.common import report
from genjax import train
from experiments.fm_common import TASKS, cfm_config


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


def genjax_speed(method: str, task: str, steps_per_dispatch: int, calls: int) -> float:
    """Seconds per step of the genjax trainer (batches drawn in the program)."""
    config = cfm_config(method, task)
    config.train.steps_per_dispatch = steps_per_dispatch
    trainer = train.Trainer.from_config(config)
    state = trainer.init()
    state, _ = trainer.run(state, 0, steps_per_dispatch)  # compile
    jax.block_until_ready(state)
    start = time.perf_counter()
    step = steps_per_dispatch
    for _ in range(calls):
        state, m = trainer.run(state, step, steps_per_dispatch)
        step += steps_per_dispatch
    jax.block_until_ready((state, m))
    return (time.perf_counter() - start) / (calls * steps_per_dispatch)


def speed(args) -> None:
    torch = _torchcfm()
    rows = []
    for method in ("icfm", "otcfm"):
        n = args.icfm_steps if method == "icfm" else args.otcfm_steps
        if torch is not None:
            x0, x1 = _data("moons", n, 256)
            default_threads = torch.get_num_threads()
            # Tiny layers often run faster on one thread (no fork/join per op); report both.
            for threads in sorted({default_threads, 1}):
                torch.set_num_threads(threads)
                torch_train(torch, method, x0[:20], x1[:20])  # warm up
                _, sec = torch_train(torch, method, x0, x1)
                rows.append({"impl": "torchcfm", "method": method, "dispatch": f"eager, {threads} thread(s)",
                             "steps_per_sec": 1 / sec})
            torch.set_num_threads(default_threads)
        for k in (1, 100):
            calls = max(1, n // k)
            sec = genjax_speed(method, "moons", k, calls)
            rows.append({"impl": "genjax", "method": method, "dispatch": f"{k} step/call", "steps_per_sec": 1 / sec})
    base = {}  # the faster torchcfm setting is the baseline
    for r in rows:
        if r["impl"] == "torchcfm":
            base[r["method"]] = max(base.get(r["method"], 0.0), r["steps_per_sec"])
    for r in rows:
        r["vs_torchcfm"] = r["steps_per_sec"] / base[r["method"]] if r["method"] in base else None
    report("fm_torchcfm_speed", rows, ["impl", "method", "dispatch", "steps_per_sec", "vs_torchcfm"])


def quality(args) -> None:
    from genjax.train import evaluate

    torch = _torchcfm()
    if torch is not None:
        torch.set_num_threads(1)  # the faster setting for this net on this CPU (see --speed)
    rows = []
    for task in args.tasks.split(","):
        config = cfm_config("otcfm", task)
        config.eval.repeats = args.repeats
        workdir = pathlib.Path(args.runs) / f"otcfm_{task}"
        trainer = train.Trainer.from_config(config)
        evaluated = []
        if (workdir / "checkpoints").exists():
            trainer, state, step = train.restore_for_eval(config, workdir)
            evaluated.append(("genjax", trainer.eval_params(state)[0], step, None))
        else:
            print(f"no genjax run in {workdir}: run python -m experiments.otcfm_{task} first")
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
    p.add_argument("--icfm-steps", type=int, default=3000)
    p.add_argument("--otcfm-steps", type=int, default=300)
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
