"""Mode coverage, sample quality and W2 on the 5x5 grid of Gaussians: GAN, DDGAN and DDPM at equal T.

    python -m experiments.gan_25gaussians
    python -m experiments.ddgan_25gaussians                                  # and T = 2, 8:
    python -m experiments.ddgan_25gaussians --workdir runs/ddgan_25gaussians_T2 --config.model.num_steps=2
    python -m experiments.ddpm_25gaussians --workdir runs/ddpm_25gaussians_T4 --config.model.num_steps=4   # 2, 4, 8
    python -m experiments.ddpm_25gaussians                                   # T = 1000
    python -m benchmarks.gan_25gaussians

Every row draws ``--draws`` independent sets of 2000 samples (the EMA parameters, each model's
own default sampler) and reports, mean ± standard error over the draws: the modes covered (of
25), the fraction of high-quality samples (within 3 std of a mode) and W2 (exact OT) to 2000
held-out points next to the floor, two independent data draws (``genjax.train.evaluation``'s
keys, so the numbers are those ``genjax eval`` reports). The ``oracle`` rows are DDPM with the
*exact* noise prediction of the mixture (``genjax.diffusion.OracleEps``) on the same T-step
process: the best a Gaussian reverse step with the exact posterior mean can do.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax.numpy as jnp
import ml_collections
import numpy as np

from benchmarks.common import report
from genjax import data, diffusion, train
from genjax.metrics import mode_coverage
from genjax.train import evaluation as geval

RUNS = ("gan_25gaussians", "ddgan_25gaussians_T2", "ddgan_25gaussians", "ddgan_25gaussians_T8",
        "ddpm_25gaussians_T2", "ddpm_25gaussians_T4", "ddpm_25gaussians_T8", "ddpm_25gaussians")
NUM = 2000


def oracle_ddpm(num_steps: int, dataset) -> diffusion.Diffusion:
    """DDPM on ``vp_betas(num_steps)`` whose network is the mixture's exact noise prediction."""
    modes = dataset.modes
    k = modes.num_modes
    mixture = diffusion.GaussianMixture(jnp.full((k,), 1.0 / k), jnp.asarray(modes.centers),
                                        jnp.broadcast_to(modes.std**2 * jnp.eye(2), (k, 2, 2)))
    sde = diffusion.VPSDE(diffusion.DiscreteSchedule(diffusion.vp_betas(num_steps)))
    return diffusion.Diffusion(diffusion.OracleEps(mixture, sde), (2,), sde=sde,
                               times=diffusion.DiscreteTimes.uniform(num_steps), default_sampler="ddpm:variance=small")


def measure(model, params, dataset, draws: int) -> dict:
    cfg = ml_collections.ConfigDict({"num_samples": NUM, "repeats": draws, "samplers": ("default",), "mmd": False})
    out = geval.sample_metrics(model, params, dataset, cfg)
    modes = [mode_coverage(np.asarray(geval.draw_samples(model, params, geval._eval_key(3, r), NUM)[0]),
                           dataset.modes.centers, dataset.modes.std) for r in range(draws)]
    for name in ("modes_covered", "high_quality"):
        values = np.array([m[name] for m in modes])
        out[name] = float(values.mean())
        out[f"{name}_stderr"] = float(values.std(ddof=1) / np.sqrt(draws))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", default=",".join(RUNS), help="workdir names under --root")
    p.add_argument("--root", default="runs")
    p.add_argument("--draws", type=int, default=10)
    p.add_argument("--oracle_steps", default="2,4,8,1000")
    p.add_argument("--name", default="gan_25gaussians")
    args = p.parse_args()
    dataset = data.get_dataset("25gaussians")
    rows = []
    data_modes = [mode_coverage(np.asarray(dataset.sample(geval._eval_key(2, r), NUM)["x"]), dataset.modes.centers,
                                dataset.modes.std) for r in range(args.draws)]
    rows.append({"run": "data (held-out draws)", "model": "data", "nfe": None,
                 "modes_covered": float(np.mean([m["modes_covered"] for m in data_modes])),
                 "high_quality": float(np.mean([m["high_quality"] for m in data_modes]))})
    for name in filter(None, args.runs.split(",")):
        workdir = pathlib.Path(args.root) / name
        run = train.load_workdir(workdir)
        params = run.trainer.eval_params(run.state)[0]
        start = time.perf_counter()
        out = measure(run.trainer.model, params, dataset, args.draws)
        model_cfg = run.config.model
        rows.append({"run": name, "model": model_cfg.name, "T": model_cfg.get("num_steps"), "step": run.step,
                     "nfe": out.get("nfe/default"), "seconds": time.perf_counter() - start, **_pick(out)})
    for steps in filter(None, args.oracle_steps.split(",")):
        out = measure(oracle_ddpm(int(steps), dataset), {}, dataset, args.draws)
        rows.append({"run": f"oracle DDPM T={steps}", "model": "ddpm (exact eps)", "T": int(steps),
                     "nfe": out.get("nfe/default"), **_pick(out)})
    report(args.name, rows, ["run", "model", "nfe", "modes_covered", "modes_covered_stderr", "high_quality",
                             "high_quality_stderr", "w2", "w2_stderr", "w2_floor", "w2_ratio", "w2_ratio_stderr"])


def _pick(out: dict) -> dict:
    keys = {"w2/default": "w2", "w2_stderr/default": "w2_stderr", "w2_floor": "w2_floor",
            "w2_ratio/default": "w2_ratio", "w2_ratio_stderr/default": "w2_ratio_stderr"}
    picked = {new: out[old] for old, new in keys.items()}
    picked.update({k: out[k] for k in ("modes_covered", "modes_covered_stderr", "high_quality", "high_quality_stderr")})
    return picked


if __name__ == "__main__":
    main()
