"""The digits table of the VAE family: test IWAE bound (K = 1000) in bits/dim, three seeds each.

    python -m benchmarks.vae_digits                 # trains every row (three seeds vmapped per run), then tabulates
    python -m benchmarks.vae_digits --only vae,hvae # some rows
    python -m benchmarks.vae_digits --no-train      # tabulate the runs already in --runs

Each row is ``genjax train --config experiments/<experiment>.py --config.train.num_seeds=3`` into
``<runs>/<row>``: three independent models (seeds 0, 1, 2) trained at once, each evaluated on the
300 test digits. Bits/dim is the importance-weighted bound's with the dequantization convention
of the digits flows (``(NLL + 64 log 17) / (64 log 2)``, docs/flows.md), so the rows sit next to
MAF 2.210, NSF 2.285 and RealNVP 2.621. Writes ``benchmarks/results/vae_digits.json`` and a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

from benchmarks.common import RESULTS, report

ROWS = {  # row -> (label, experiment, overrides)
    "vae": ("VAE (ELBO, Gaussian posterior)", "vae_digits", []),
    "iwae5": ("IWAE-trained, K = 5", "iwae_digits", []),
    "iwae50": ("IWAE-trained, K = 50", "iwae_digits", ["--config.model.train_samples=50"]),
    "vae_iaf": ("VAE, IAF posterior (2 layers)", "vae_flow_digits", []),
    "hvae": ("hierarchical VAE (3 groups)", "hvae_digits", []),
}
SEEDS = 3
FLOWS = {"MAF": 2.210, "NSF": 2.285, "RealNVP": 2.621}  # docs/flows.md, same split and convention


def _train(row: str, runs: pathlib.Path) -> float:
    _, experiment, overrides = ROWS[row]
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "genjax.cli", "train", "--config", f"experiments/{experiment}.py",
           "--workdir", str(runs / row), f"--config.train.num_seeds={SEEDS}", "--config.train.progress=false",
           *overrides]
    print(" ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def _row(row: str, runs: pathlib.Path, seconds: float | None) -> dict:
    m = json.loads((runs / row / "final_metrics.json").read_text())
    per_seed = [m[f"bits_per_dim[{i}]"] for i in range(SEEDS)]
    out = {"row": row, "label": ROWS[row][0], "experiment": ROWS[row][1], "overrides": " ".join(ROWS[row][2]),
           "steps": m["step"], "bits_per_dim": m["bits_per_dim"], "bits_per_dim_seeds": per_seed,
           "bits_per_dim_spread": (max(per_seed) - min(per_seed)) / 2, "nll": m["nll"], "elbo": m["elbo"],
           "kl": m["kl"], "active_units": m["active_units"], "w2": m.get("w2/default"),
           "w2_floor": m.get("w2_floor"), "train_seconds": seconds}
    out.update({k: m[k] for k in m if (k.startswith("kl/group") or k.startswith("active_units/")
                                      or k.startswith("iwae/")) and "[" not in k})
    return out


def _markdown(rows: list[dict]) -> str:
    lines = ["| model | test bits/dim (IWAE, K = 1000), mean of 3 seeds | seeds 0 / 1 / 2 | test ELBO (nats) | KL (nats) "
             "| active units | W2 / floor (300 samples) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        seeds = " / ".join(f"{b:.3f}" for b in r["bits_per_dim_seeds"])
        w2 = "" if r["w2"] is None else f"{r['w2']:.3f}" + ("" if r["w2_floor"] is None else f" / {r['w2_floor']:.3f}")
        lines.append(f"| {r['label']} | **{r['bits_per_dim']:.3f}** | {seeds} | {r['elbo']:.1f} | {r['kl']:.1f} "
                     f"| {r['active_units']:.1f} | {w2} |")
    for name, bpd in FLOWS.items():
        lines.append(f"| {name} (exact likelihood, docs/flows.md) | {bpd:.3f} | one seed | | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", default="runs/vae_digits_table")
    p.add_argument("--only", default=",".join(ROWS))
    p.add_argument("--no-train", action="store_true")
    args = p.parse_args()
    runs = pathlib.Path(args.runs)
    rows = []
    for row in args.only.split(","):
        seconds = None if args.no_train else _train(row, runs)
        rows.append(_row(row, runs, seconds))
    report("vae_digits", rows, ["row", "bits_per_dim", "bits_per_dim_spread", "elbo", "kl", "active_units", "w2",
                                "w2_floor", "steps", "train_seconds"])
    md = _markdown(rows)
    (RESULTS / "vae_digits.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
