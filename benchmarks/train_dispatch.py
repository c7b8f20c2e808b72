"""Steps per second of the genjax train step: one jitted step per call vs k steps per call.

    python -m benchmarks.train_dispatch

Small models are bound by dispatch; ``train.steps_per_dispatch = k`` runs k steps in one
``lax.scan`` with the batch drawn inside the program. Ratios are measured in one run.
"""

from __future__ import annotations

import jax
import ml_collections

from benchmarks.common import report, time_call
from genjax import train
from genjax.config import default_config


def _config(hidden, batch) -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "moons"
    c.data.batch_size = batch
    c.model = ml_collections.ConfigDict({"name": "flow_matching", "hidden": hidden, "time_dim": 64})
    c.train.progress = False
    return c


def main() -> None:
    rows = []
    for hidden, batch in (((64, 64, 64), 256), ((256, 256, 256), 512)):
        trainer = train.Trainer.from_config(_config(hidden, batch))
        row = {"mlp": "x".join(map(str, hidden)), "batch": batch}
        for k in (1, 10, 100):
            holder = {"state": trainer.init()}

            def go(k=k):
                holder["state"], m = trainer.run(holder["state"], 0, k)
                jax.block_until_ready(m)

            row[f"steps/s k={k}"] = k / time_call(go, repeats=3, min_time=3.0)
        row["speedup k=100"] = row["steps/s k=100"] / row["steps/s k=1"]
        rows.append(row)
    report("train_dispatch", rows, ["mlp", "batch", "steps/s k=1", "steps/s k=10", "steps/s k=100", "speedup k=100"])


if __name__ == "__main__":
    main()
