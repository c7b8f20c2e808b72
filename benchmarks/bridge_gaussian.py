"""DSBM on the DSBM paper's Gaussian benchmark, d = 5 / 20 / 50, against SB-CFM and rectified flow.

    python -m benchmarks.bridge_gaussian                      # all three dimensions
    python -m benchmarks.bridge_gaussian --dims 5             # one

``N(-0.1 * 1, I) -> N(0.1 * 1, I)``, ``sigma = 1``, 20 Euler-Maruyama steps, the configs of
``experiments/bridge_common.py``: DSBM-IMF (4 outer iterations of 2000 steps, alternating,
backward first, from the independent coupling), SB-CFM (bridge matching on entropic OT at
``2 sigma^2``) and rectified flow (bridge matching at ``sigma = 0`` on the independent coupling),
8000 steps each. Runs go to ``<runs>/d<d>/<method>`` through the ordinary trainer (resumable;
finished runs are reused). Then, for DSBM's checkpoint after every outer iteration and for the
baselines' last one, 20 000 fresh source points are carried forward and 20 000 data points
backward (20 Euler-Maruyama steps, the models' own, and 200): the generated end's mean,
per-coordinate variance and per-coordinate ``Cov(X0, X1)``, each averaged over coordinates, against
the optimum (+-0.1, 1, (sqrt(5) - 1) / 2 = 0.618) and,
after each DSBM iteration, the exact iterate of iterative Markovian fitting (the closed-form
Markovian projection, ``genjax.bridge.markovian_projection_coupling``: 0.546, 0.611, 0.617, 0.618).

Writes ``benchmarks/results/bridge_gaussian.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import functools
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import RESULTS, report
from experiments.bridge_common import GAUSSIAN_MEAN, gaussian_config

METHODS = ("dsbm", "sbcfm", "rf")
ABLATION = "dsbm_no_average"  # DSBM with model.average_decay = 0, at the first dimension only
LABELS = {"dsbm": "DSBM-IMF", ABLATION: "DSBM-IMF, no averaging", "sbcfm": "SB-CFM", "rf": "rectified flow"}
NUM_POINTS = 20_000
FINE_STEPS = 200
OPTIMUM_COV = (np.sqrt(5.0) - 1.0) / 2.0


def exact_references(outer: int) -> dict:
    """Per-coordinate references from the closed form (unit variances, sigma = 1, one coordinate):

    - ``imf``: ``Cov(X0, X1)`` after each exact IMF iteration from the independent coupling
      (the continuous-time Markovian projection, iterated);
    - ``imf_em``: ``(variance, Cov)`` of 20- and FINE_STEPS-step Euler-Maruyama of each iteration's
      exact drift (the projection of the previous iterate), what a perfectly fitted model shows;
    - ``sb_em`` and ``rf_em``: the same for the Schrödinger bridge's drift and for rectified flow's
      exact velocity (the projection at sigma = 0 of the independent coupling).
    """
    from genjax.bridge import GaussianBridge, euler_maruyama_moments, markovian_projection_coupling

    def em(bridge):
        return {n: tuple(float(a[0, 0]) for a in euler_maruyama_moments(bridge, n)) for n in (20, FINE_STEPS)}

    with jax.enable_x64(True):
        one, zero = jnp.ones((1, 1)), jnp.zeros(1)
        c, imf, imf_em = jnp.zeros((1, 1)), [], []
        for _ in range(outer):
            bridge = GaussianBridge(zero, one, zero, one, c, 1.0)
            imf_em.append(em(bridge))
            c = markovian_projection_coupling(bridge, steps=2000)
            imf.append(float(c[0, 0]))
        sb = GaussianBridge(zero, one, zero, one, jnp.full((1, 1), OPTIMUM_COV), 1.0)
        rf = GaussianBridge(zero, one, zero, one, jnp.zeros((1, 1)), 0.0)
        return {"imf": imf, "imf_em": imf_em, "sb_em": em(sb), "rf_em": em(rf)}


def train(method: str, dim: int, workdir: pathlib.Path):
    from genjax.train import train_and_evaluate

    config = gaussian_config("dsbm" if method == ABLATION else method, dim)
    if method == ABLATION:
        config.model.average_decay = 0.0
    config.train.keep_checkpoints = 8  # every outer iteration's checkpoint, for the per-iteration table
    config.train.progress = False
    config.train.plot = False
    seconds = None
    if not (workdir / "final_metrics.json").exists():
        start = time.perf_counter()
        train_and_evaluate(config, workdir)
        seconds = time.perf_counter() - start
        (workdir / "train_seconds.json").write_text(json.dumps({"seconds": seconds}) + "\n")
    elif (workdir / "train_seconds.json").exists():
        seconds = json.loads((workdir / "train_seconds.json").read_text())["seconds"]
    return config, seconds


class Checkpoints:
    """A run's model and its checkpoints, with the end-point simulation compiled once per step count."""

    def __init__(self, config, workdir: pathlib.Path):
        from genjax.train import Trainer

        self.config, self.workdir = config, workdir
        self.trainer = Trainer.from_config(config)
        self._ends: dict = {}

    def moments(self, step: int, steps: int | None = None) -> dict:
        """Both ends' moments of the checkpoint at ``step`` from NUM_POINTS fresh points each,
        simulated on ``steps`` Euler-Maruyama steps (default: the model's 20)."""
        from genjax.bridge import endpoint_moments
        from genjax.train.checkpoint import Checkpointer

        ckpt = Checkpointer(self.workdir / "checkpoints", keep=self.config.train.keep_checkpoints, read_only=True)
        try:
            state, _ = ckpt.restore(self.trainer.abstract_state(), step=step)
        finally:
            ckpt.close()
        model = self.trainer.model
        if steps not in self._ends:
            self._ends[steps] = jax.jit(functools.partial(model.generate_ends, steps=steps))
        key = jax.random.key(2024)
        x0 = model.source.sample(jax.random.fold_in(key, 0), NUM_POINTS)
        x1 = model.target.sample(jax.random.fold_in(key, 1), NUM_POINTS)
        gen1, gen0 = self._ends[steps](state.params, jax.random.fold_in(key, 2), x0, x1)
        return {"forward": endpoint_moments(x0, gen1, "x1"), "backward": endpoint_moments(gen0, x1, "x0")}


def _row(dim, method, iteration, direction, m, fine, seconds, exact_em, exact=None, fitted=True):
    optimum_mean = GAUSSIAN_MEAN if direction == "forward" else -GAUSSIAN_MEAN
    return {"dim": dim, "method": LABELS[method], "iteration": iteration, "direction": direction,
            "mean": m["mean"], "mean_stderr": m["mean_stderr"], "mean_optimum": optimum_mean,
            "var": m["var"], "coupling_cov": m["coupling_cov"],
            "exact_drift_var": exact_em[20][0], "exact_drift_cov": exact_em[20][1],
            f"var_{FINE_STEPS}_steps": fine["var"], f"coupling_cov_{FINE_STEPS}_steps": fine["coupling_cov"],
            f"exact_drift_var_{FINE_STEPS}_steps": exact_em[FINE_STEPS][0],
            f"exact_drift_cov_{FINE_STEPS}_steps": exact_em[FINE_STEPS][1],
            "cov_optimum": OPTIMUM_COV, "cov_exact_imf": exact, "train_seconds": seconds,
            "fitted_in_this_iteration": fitted}


def plot(rows: list[dict], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    dims = sorted({r["dim"] for r in rows})
    for dim, color in zip(dims, ("C0", "C1", "C2")):
        for method, style in (("dsbm", "o-"), (ABLATION, "x--")):
            it = [r for r in rows if r["dim"] == dim and r["method"] == LABELS[method] and r["fitted_in_this_iteration"]]
            if not it:
                continue
            xs = [r["iteration"] for r in it]
            axes[0].plot(xs, [r["mean"] - r["mean_optimum"] for r in it], style, color=color,
                         label=f"{LABELS[method]} d={dim}")
            axes[1].plot(xs, [r["var"] for r in it], style, color=color)
            axes[2].plot(xs, [r["coupling_cov"] for r in it], style, color=color)
        last = max(xs) + 0.6
        for method, marker in (("sbcfm", "s"), ("rf", "^")):
            for r in rows:
                if r["dim"] == dim and r["method"] == LABELS[method]:
                    label = f"{LABELS[method]} d={dim}" if r["direction"] == "forward" else None
                    axes[0].plot(last, r["mean"] - r["mean_optimum"], marker, color=color, label=label, alpha=0.7)
                    axes[1].plot(last, r["var"], marker, color=color, alpha=0.7)
                    axes[2].plot(last, r["coupling_cov"], marker, color=color, alpha=0.7)
    exact = [r for r in rows if r["dim"] == dims[0] and r["method"] == LABELS["dsbm"] and r["fitted_in_this_iteration"]]
    axes[2].plot([r["iteration"] for r in exact], [r["cov_exact_imf"] for r in exact], "k:", label="exact IMF iterate")
    axes[2].plot([r["iteration"] for r in exact], [r["exact_drift_cov"] for r in exact], "k.",
                 label="its drift on 20 EM steps")
    for ax, value, title in ((axes[0], 0.0, "generated mean - optimum"), (axes[1], 1.0, "variance"),
                             (axes[2], OPTIMUM_COV, "Cov(X0_i, X1_i)")):
        ax.axhline(value, color="k", ls="--", lw=1, label="optimum" if ax is axes[2] else None)
        ax.set_title(title)
        ax.set_xlabel("outer iteration (right: one-shot baselines)")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dims", default="5,20,50")
    p.add_argument("--runs", default="runs/bridge_gaussian")
    args = p.parse_args()
    rows = []
    dims = [int(d) for d in args.dims.split(",")]
    for dim in dims:
        for method in (*METHODS, ABLATION) if dim == dims[0] else METHODS:
            workdir = pathlib.Path(args.runs) / f"d{dim}" / method
            config, seconds = train(method, dim, workdir)
            run = Checkpoints(config, workdir)
            if method in ("dsbm", ABLATION):
                inner = config.model.inner_steps
                outer = config.train.steps // inner
                exact = exact_references(outer)
                for k in range(outer):
                    # the direction fitted in iteration k: backward first, then alternating
                    direction = "backward" if k % 2 == 0 else "forward"
                    m = run.moments(inner * (k + 1))
                    fine = run.moments(inner * (k + 1), FINE_STEPS)
                    rows.append(_row(dim, method, k + 1, direction, m[direction], fine[direction], seconds,
                                     exact["imf_em"][k], exact["imf"][k]))
                other = "forward" if direction == "backward" else "backward"
                rows.append(_row(dim, method, outer, other, m[other], fine[other], seconds, exact["imf_em"][-2],
                                 exact["imf"][-2], fitted=False))
            else:
                m = run.moments(config.train.steps)
                fine = run.moments(config.train.steps, FINE_STEPS)
                exact = exact_references(1)["sb_em" if method == "sbcfm" else "rf_em"]
                for direction in ("forward", "backward"):
                    rows.append(_row(dim, method, None, direction, m[direction], fine[direction], seconds, exact,
                                     OPTIMUM_COV if method == "sbcfm" else 1.0))
    columns = ["dim", "method", "iteration", "direction", "mean", "mean_stderr", "var", "coupling_cov",
               "exact_drift_var", "exact_drift_cov", f"var_{FINE_STEPS}_steps", f"coupling_cov_{FINE_STEPS}_steps",
               "cov_exact_imf", "train_seconds"]
    report("bridge_gaussian", rows, columns)
    lines = ["| d | method | outer iteration | direction | mean (optimum) | variance | Cov(X0_i, X1_i) | "
             f"exact drift: variance, Cov | variance, {FINE_STEPS} steps | Cov, {FINE_STEPS} steps | "
             f"exact drift, {FINE_STEPS} steps | continuous exact Cov | train s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        it = "-" if r["iteration"] is None else str(r["iteration"])
        secs = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        lines.append(f"| {r['dim']} | {r['method']} | {it} | {r['direction']} | {r['mean']:.4f} ± "
                     f"{r['mean_stderr']:.4f} ({r['mean_optimum']:+.1f}) | {r['var']:.3f} | {r['coupling_cov']:.3f} | "
                     f"{r['exact_drift_var']:.3f}, {r['exact_drift_cov']:.3f} | "
                     f"{r[f'var_{FINE_STEPS}_steps']:.3f} | {r[f'coupling_cov_{FINE_STEPS}_steps']:.3f} | "
                     f"{r[f'exact_drift_var_{FINE_STEPS}_steps']:.3f}, {r[f'exact_drift_cov_{FINE_STEPS}_steps']:.3f} | "
                     f"{r['cov_exact_imf']:.3f} | {secs} |")
    (RESULTS / "bridge_gaussian.md").write_text("\n".join(lines) + "\n")
    plot(rows, RESULTS / "bridge_gaussian.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
