"""8gaussians <-> moons: DSBM and SB-CFM at several sigmas, both ends' W2 and the transport cost.

    python -m benchmarks.bridge_moons                     # sigma = 0.3 and 1.0, plus rectified flow
    python -m benchmarks.bridge_moons --sigmas 0.3,0.5,1.0

Configs of ``experiments/bridge_common.py`` (``experiments/dsbm_8gaussians_moons.py`` and
``experiments/sbcfm_8gaussians_moons.py`` at ``model.sigma``): DSBM-IMF, 4 outer iterations of 2500
steps, and SB-CFM for as many steps; rectified flow (bridge matching at sigma = 0 on the
independent coupling) as the deterministic reference. Runs go to ``<runs>/<method>_s<sigma>`` (finished
runs are reused); the numbers are each run's final evaluation (``final_metrics.json``):

- forward end: W2 (exact OT) of 2000 samples to 2000 held-out i.i.d. moons, mean ± standard error
  over 3 draws, and the floor (two draws of moons);
- backward end: the same against held-out 8gaussians (``backward/w2``, ``backward/w2_floor``);
- transport cost ``E |X0 - X1|^2`` of the generated pairs (forward: held-out 8gaussians and their
  forward ends; backward: held-out moons and their backward ends), against exact OT between the
  two held-out sets, their independent pairing, and entropic OT at ``2 sigma^2`` (the Schrödinger
  bridge's static coupling on those points).

Writes ``benchmarks/results/bridge_moons.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

from benchmarks.common import RESULTS, report
from experiments.bridge_common import moons_config

LABELS = {"dsbm": "DSBM-IMF", "sbcfm": "SB-CFM", "rf": "rectified flow"}


def run(method: str, sigma: float, workdir: pathlib.Path) -> dict:
    from genjax.train import train_and_evaluate

    config = moons_config(method, sigma)
    config.train.progress = False
    config.train.plot = False
    if not (workdir / "final_metrics.json").exists():
        start = time.perf_counter()
        train_and_evaluate(config, workdir)
        (workdir / "train_seconds.json").write_text(json.dumps({"seconds": time.perf_counter() - start}) + "\n")
    metrics = json.loads((workdir / "final_metrics.json").read_text())
    seconds = json.loads((workdir / "train_seconds.json").read_text())["seconds"] if (
        workdir / "train_seconds.json").exists() else None
    return {"method": LABELS[method], "sigma": config.model.sigma, "steps": metrics["step"],
            "w2_forward": metrics["w2/default"], "w2_forward_stderr": metrics["w2_stderr/default"],
            "w2_forward_floor": metrics["w2_floor"],
            "w2_backward": metrics["backward/w2"], "w2_backward_stderr": metrics.get("backward/w2_stderr"),
            "w2_backward_floor": metrics["backward/w2_floor"],
            "cost_forward": metrics["forward/cost"], "cost_backward": metrics["backward/cost"],
            "cost_entropic": metrics.get("cost/entropic"), "cost_exact_ot": metrics["cost/exact_ot"],
            "cost_independent": metrics["cost/independent"], "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sigmas", default="0.3,1.0")
    p.add_argument("--runs", default="runs/bridge_moons")
    args = p.parse_args()
    runs = pathlib.Path(args.runs)
    rows = []
    for sigma in (float(s) for s in args.sigmas.split(",")):
        for method in ("dsbm", "sbcfm"):
            rows.append(run(method, sigma, runs / f"{method}_s{sigma:g}"))
    rows.append(run("rf", 0.0, runs / "rf"))
    columns = list(rows[0])
    report("bridge_moons", rows, columns)

    def pm(v, se):
        return f"{v:.3f}" + ("" if se is None else f" ± {se:.3f}")

    lines = ["| method | sigma | W2 forward (moons) | floor | W2 backward (8gaussians) | floor | cost forward | "
             "cost backward | entropic OT at 2 sigma^2 | exact OT | independent | train s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ent = "-" if r["cost_entropic"] is None else f"{r['cost_entropic']:.3f}"
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.0f}"
        lines.append(f"| {r['method']} | {r['sigma']:g} | {pm(r['w2_forward'], r['w2_forward_stderr'])} | "
                     f"{r['w2_forward_floor']:.3f} | {pm(r['w2_backward'], r['w2_backward_stderr'])} | "
                     f"{r['w2_backward_floor']:.3f} | {r['cost_forward']:.3f} | {r['cost_backward']:.3f} | {ent} | "
                     f"{r['cost_exact_ot']:.3f} | {r['cost_independent']:.3f} | {secs} |")
    (RESULTS / "bridge_moons.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
