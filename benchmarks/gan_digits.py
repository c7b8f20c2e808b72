"""W2 to the test digits: DDGAN at T = 4 against the diffusion model's DDIM / DDPM at the same NFE.

    python -m experiments.ddgan_digits
    python -m experiments.diffusion_digits --workdir runs/diffusion_digits
    python -m benchmarks.gan_digits

Each run is evaluated as ``genjax eval`` evaluates it (``genjax.train.evaluation.sample_metrics``:
as many unconditional samples as there are test digits, 300, against the 300 test digits, exact
OT, mean ± standard error over ``--draws`` independent draws), with the EMA parameters: the
DDGAN with its own 4-step sampler, the diffusion model with each spec of ``--samplers``.
"""

from __future__ import annotations

import argparse
import pathlib

from benchmarks.common import report
from genjax import train


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--ddgan", default="runs/ddgan_digits")
    p.add_argument("--diffusion", default="runs/diffusion_digits")
    p.add_argument("--samplers", default="ddim@4,ddpm@4,ddim@50,ode")
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--name", default="gan_digits")
    args = p.parse_args()
    rows = []
    for workdir, samplers in ((args.ddgan, ("default",)), (args.diffusion, tuple(args.samplers.split(",")))):
        config = train.read_workdir_config(workdir)
        config.eval.samplers, config.eval.repeats, config.eval.mmd = samplers, args.draws, False
        run = train.load_workdir(workdir, config)
        results = run.trainer.evaluate(run.state)
        for spec in samplers:
            rows.append({"run": pathlib.Path(workdir).name, "model": config.model.name, "sampler": spec,
                         "nfe": results.get(f"nfe/{spec}"), "w2": results[f"w2/{spec}"],
                         "w2_stderr": results[f"w2_stderr/{spec}"], "draws": args.draws, "step": run.step})
    report(args.name, rows, ["run", "model", "sampler", "nfe", "w2", "w2_stderr", "draws", "step"])


if __name__ == "__main__":
    main()
