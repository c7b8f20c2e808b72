"""W2 of trained 2-D diffusion models to held-out data, per sampler, over many draws (any
genjax run with samplers: consistency runs and digits too, where the floor is absent).

    python -m experiments.ddpm_moons && python -m experiments.vp_moons      # (and subvp, ve, edm)
    python -m benchmarks.diffusion_toy_quality --workdirs runs/ddpm_moons,runs/vp_moons,runs/subvp_moons,runs/ve_moons

Each workdir is evaluated with its own config's samplers (or ``--samplers``), ``--draws``
independent draws of 2000 model points against 2000 held-out points (exact OT), next to the
W2 floor of two independent data draws; the table has one row per (model, sampler).
"""

from __future__ import annotations

import argparse
import pathlib
import time


from benchmarks.common import report
from genjax import train

COLUMNS = ["run", "sampler", "nfe", "w2", "w2_stderr", "floor", "ratio", "ratio_stderr", "nll"]


def evaluate_runs(workdirs, draws: int, samplers: tuple[str, ...] | None = None) -> list[dict]:
    """One row per (workdir, sampler): W2 over ``draws`` draws with the evaluation's fixed keys."""
    rows = []
    for workdir in workdirs:
        workdir = pathlib.Path(workdir)
        config = train.read_workdir_config(workdir)
        config.eval.repeats = draws
        if samplers:
            config.eval.samplers = tuple(samplers)
        config.eval.mmd = False
        trainer, state, step = train.restore_for_eval(config, workdir)
        start = time.perf_counter()
        results = trainer.evaluate(state)
        seconds = time.perf_counter() - start
        for spec in config.eval.samplers:
            rows.append({
                "run": workdir.name,
                "model": config.model.name + (f"/{config.model.sde}" if "sde" in config.model else ""),
                "sampler": spec,
                "nfe": results.get(f"nfe/{spec}"),
                "w2": results[f"w2/{spec}"],
                "w2_stderr": results[f"w2_stderr/{spec}"],
                "floor": results.get("w2_floor"),  # held-out sets (digits) have none
                "ratio": results.get(f"w2_ratio/{spec}"),
                "ratio_stderr": results.get(f"w2_ratio_stderr/{spec}"),
                "nll": results.get("nll"),
                "draws": draws,
                "step": step,
                "eval_seconds": seconds,
            })
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdirs", default="runs/ddpm_moons,runs/vp_moons,runs/subvp_moons,runs/ve_moons")
    p.add_argument("--draws", type=int, default=10)
    p.add_argument("--samplers", default="", help="comma-separated specs (default: each config's eval.samplers)")
    p.add_argument("--name", default="diffusion_toy_quality")
    args = p.parse_args()
    samplers = tuple(args.samplers.split(",")) if args.samplers else None
    rows = evaluate_runs(args.workdirs.split(","), args.draws, samplers)
    report(args.name, rows, COLUMNS)


if __name__ == "__main__":
    main()
