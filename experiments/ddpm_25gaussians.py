"""DDPM on the 5x5 grid of Gaussians, on the VP process DDGAN uses, at any number of steps.

    python -m experiments.ddpm_25gaussians                                   # T = 1000
    python -m experiments.ddpm_25gaussians --workdir runs/ddpm_25gaussians_T4 --config.model.num_steps=4
    python -m benchmarks.gan_25gaussians        # the docs/gan.md table

The diffusion family's ``ddpm`` model with ``schedule = "vp"`` (beta 0.1 .. 20 on T steps of
[1e-3, 1], the discretisation of experiments/ddgan_25gaussians.py), eps-prediction and the simple
loss, a 4x128 SiLU MLP; sampled by ancestral DDPM steps over all T training times with the
posterior variance, so at T = 2 / 4 / 8 it is the Gaussian-reverse-step baseline of a DDGAN of
the same T. Evaluation reports W2 with its floor; the benchmark adds the mode metrics.
"""

import pathlib

import ml_collections

from genjax.config import load_config_file


def get_config() -> ml_collections.ConfigDict:
    c = load_config_file(pathlib.Path(__file__).with_name("ddpm_moons.py"))
    c.data.name = "25gaussians"
    c.model.schedule = "vp"
    c.model.beta_min = 0.1
    c.model.beta_max = 20.0
    c.model.sampler = "ddpm:variance=small"
    c.eval.samplers = ("default",)
    return c

if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ddpm_25gaussians", *sys.argv[1:]]))
