"""The flow matching results table: W2, NFE and NPE of every 2-D experiment, from its run.

    python -m experiments.icfm_moons ... python -m experiments.rf_moons   # (each task, each method)
    python -m benchmarks.fm_table

Reads ``runs/{icfm,otcfm}_<task>/final_metrics.json`` and ``runs/rf_<task>/rf{1,2,3}/...``:
the evaluation each experiment ran at its end (W2 by exact OT of 2000 vs 2000 points, mean
and standard error over ``eval.repeats`` draws; W2 floor; NPE, straightness). Prints the table
and writes ``benchmarks/results/fm_table.json`` and a markdown version for the README.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from benchmarks.common import RESULTS, report
from experiments.fm_common import TASKS

METHODS = [("icfm", "I-CFM", "icfm_{task}"), ("otcfm", "OT-CFM", "otcfm_{task}"),
           ("rf1", "RF (1-RF)", "rf_{task}/rf1"), ("rf2", "RF + 1 reflow (2-RF)", "rf_{task}/rf2"),
           ("rf3", "RF + 2 reflows (3-RF)", "rf_{task}/rf3")]
SAMPLERS = ("default", "euler@4", "euler@2", "euler@1")


def _cell(m, spec):
    if f"w2/{spec}" not in m:
        return "-"
    return f"{m[f'w2/{spec}']:.3f} ± {m[f'w2_stderr/{spec}']:.3f}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", default="runs")
    args = p.parse_args()
    rows, lines = [], []
    header = ("| task | method | W2 adaptive (NFE) | W2 Euler 4 | W2 Euler 2 | W2 Euler 1 | W2 floor | NPE | straightness |\n"
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for task, (source, target) in TASKS.items():
        for key, label, pattern in METHODS:
            run = pathlib.Path(args.runs) / pattern.format(task=task)
            # the latest `genjax eval` of the run if there is one (e.g. with more samplers), else the
            # evaluation at the end of training
            evals = sorted(run.glob("eval_*.json"), key=lambda p: p.stat().st_mtime)
            path = evals[-1] if evals else run / "final_metrics.json"
            if not path.exists():
                continue
            m = json.loads(path.read_text())
            row = {"task": task, "method": key, "step": m["step"], "w2_floor": m.get("w2_floor"),
                   "nfe": m.get("nfe/default"), "npe": m.get("npe"), "straightness": m.get("straightness"),
                   "path_energy": m.get("path_energy")}
            for spec in SAMPLERS:
                row[f"w2/{spec}"] = m.get(f"w2/{spec}")
                row[f"w2_stderr/{spec}"] = m.get(f"w2_stderr/{spec}")
            rows.append(row)
            src = "N(0, I)" if source == "gaussian" else source
            lines.append(
                f"| {src} → {target} | {label} | {_cell(m, 'default')} ({m.get('nfe/default', float('nan')):.0f}) "
                f"| {_cell(m, 'euler@4')} | {_cell(m, 'euler@2')} | {_cell(m, 'euler@1')} | {m['w2_floor']:.3f} "
                f"| {m['npe']:.3f} "
                f"| {m['straightness']:.3f} |")
    report("fm_table", rows, ["task", "method", "w2/default", "w2_stderr/default", "nfe", "w2/euler@4", "w2/euler@2",
                              "w2/euler@1",
                              "w2_floor", "npe", "straightness"])
    md = header + "\n" + "\n".join(lines) + "\n"
    (RESULTS / "fm_table.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
