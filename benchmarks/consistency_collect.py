"""Collect the evaluation files of the consistency and EDM runs into one JSON.

    python -m benchmarks.consistency_collect      # writes benchmarks/results/consistency_runs.json

Each run's ``final_metrics.json`` (or its latest ``eval_<step>.json``) is read as written by
``genjax train`` / ``genjax eval`` (2000 samples against held-out data, ``eval.repeats`` draws).
"""

from __future__ import annotations

import json
import pathlib

RUNS = ("edm_moons", "edm_8gaussians", "edm_digits", "fm_moons", "rf_8gaussians", "cd_moons", "cd_8gaussians",
        "cd_fm_moons", "cd_fm_8gaussians", "ct_moons", "ct_8gaussians", "ict_moons", "ict_8gaussians", "ect_moons",
        "ect_8gaussians", "cd_digits")


def read(run: pathlib.Path) -> dict | None:
    final = run / "final_metrics.json"
    if final.is_file():
        return {"file": str(final), **json.loads(final.read_text())}
    evals = sorted(run.glob("eval_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    return {"file": str(evals[-1]), **json.loads(evals[-1].read_text())} if evals else None


def main() -> None:
    out = {name: read(pathlib.Path("runs") / name) for name in RUNS}
    path = pathlib.Path("benchmarks/results/consistency_runs.json")
    path.write_text(json.dumps({k: v for k, v in out.items() if v is not None}, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
