"""W2 of few-step consistency models on 2-D data against their teachers' many-step W2.

    python -m experiments.edm_moons && python -m experiments.fm_moons     # the teachers
    python -m experiments.cd_moons && python -m experiments.cd_fm_moons    # and ct_, ict_, ect_moons
    python -m benchmarks.consistency_toy_quality --data moons

For ``--data`` (moons or 8gaussians) every run of ``runs/<method>_<data>`` that exists is
evaluated at 1, 2 and 4 steps (``cm@K``: intermediate levels from the rho grid, or
``--samplers``), and the teachers (``runs/edm_<data>``: Heun at 18 steps and the adaptive
PF-ODE; the flow-matching teacher: its adaptive solve) with the same ``--draws`` draws of 2000
points against 2000 held-out points (exact OT), next to the W2 floor. Rows go to
``benchmarks/results/consistency_toy_quality_<data>.json``.
"""

from __future__ import annotations

import argparse
import pathlib

from benchmarks.common import report
from benchmarks.diffusion_toy_quality import COLUMNS, evaluate_runs
from experiments.cm_common import FM_TEACHERS

METHODS = ("cd", "cd_fm", "ct", "ict", "ect")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="moons", choices=sorted(FM_TEACHERS))
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--samplers", default="cm@1,cm@2,cm@4", help="comma-separated specs of the consistency runs")
    p.add_argument("--runs", default="runs")
    p.add_argument("--name", default="")
    args = p.parse_args()
    root = pathlib.Path(args.runs)
    rows = []
    teachers = [(f"edm_{args.data}", ("edm_heun@18", "ode")), (FM_TEACHERS[args.data], ("default",))]
    for run, samplers in teachers:
        if (root / run / "checkpoints").is_dir():
            rows += evaluate_runs([root / run], args.draws, samplers)
    for method in METHODS:
        run = root / f"{method}_{args.data}"
        if (run / "checkpoints").is_dir():
            rows += evaluate_runs([run], args.draws, tuple(args.samplers.split(",")))
    report(args.name or f"consistency_toy_quality_{args.data}", rows, COLUMNS)


if __name__ == "__main__":
    main()
