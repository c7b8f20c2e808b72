"""Test NLL of every flow type on the 2-D toy sets, each trained briefly with its experiment's config.

    python -m benchmarks.flows_toy                          # 8 flows x 4 sets, 2000 steps each
    python -m benchmarks.flows_toy --flows nsf,realnvp --data 8gaussians --steps 5000

For each (flow, set) the experiment ``experiments/<flow>_toy.py`` is trained from scratch for
``--steps`` steps (its schedule stretched to that length) and evaluated on the set's fixed 2000
held-out points: NLL in nats (exact for every flow but CIF, whose NLL is the importance-weighted
bound with 100 draws, an upper bound), its standard error, and W2 of 2000 samples to held-out
data over the W2 of two data draws (1 = as close as the data to itself). ``time s`` is training
(compilation included) on this machine. For 8gaussians the true entropy is printed with the
table: no model's expected NLL can be below it.
"""

from __future__ import annotations

import argparse
import importlib
import time

import jax

from benchmarks.common import report
from experiments.flow_common import TOY_SETS, eight_gaussians_entropy
from genjax import train

FLOWS = ("nice", "realnvp", "glow", "maf", "iaf", "nsf", "resflow", "cif")


def train_and_evaluate(config, data: str, steps: int):
    """Trains ``config`` on ``data`` for ``steps`` steps (schedule stretched to that length);
    returns the trainer, its final state, the evaluation and the training seconds."""
    config.data.name = data
    config.train.steps = steps
    config.train.warmup_steps = min(config.train.warmup_steps, steps // 10)
    config.train.progress = False
    config.eval.repeats = 3
    config.eval.mmd = False
    trainer = train.Trainer.from_config(config)
    start = time.perf_counter()
    state = trainer.init()
    k = config.train.steps_per_dispatch
    for step in range(0, steps, k):
        state, _ = trainer.run(state, step, min(k, steps - step))
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    return trainer, state, trainer.evaluate(state), seconds


def run(flow: str, data: str, steps: int) -> dict:
    config = importlib.import_module(f"experiments.{flow}_toy").get_config()
    _, _, results, seconds = train_and_evaluate(config, data, steps)
    return {
        "flow": flow, "data": data, "steps": steps, "nll": results["nll"], "nll_se": results["nll_stderr"],
        "w2_ratio": results.get("w2_ratio/default"), "time s": seconds,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--flows", default=",".join(FLOWS))
    p.add_argument("--data", default=",".join(TOY_SETS))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--name", default="flows_toy", help="results file name")
    args = p.parse_args()
    rows = []
    for data in args.data.split(","):
        for flow in args.flows.split(","):
            rows.append(run(flow, data, args.steps))
            print(rows[-1], flush=True)
    report(args.name, rows, ["flow", "data", "steps", "nll", "nll_se", "w2_ratio", "time s"])
    if "8gaussians" in args.data.split(","):
        entropy, se = eight_gaussians_entropy()
        print(f"8gaussians true entropy (Monte Carlo, 2e6 draws): {entropy:.4f} +- {se:.4f} nats")


if __name__ == "__main__":
    main()
