"""Denoising diffusion GAN on moons, T = 4 steps.

    python -m experiments.ddgan_moons
    genjax eval --workdir runs/ddgan_moons

experiments/ddgan_25gaussians.py's model and optimiser on the two moons; evaluation reports W2
of 2000 samples (4 generator calls each) to held-out moons next to the floor, comparable with
docs/diffusion.md's DDPM / DDIM rows at 10 and more steps.
"""

import ml_collections

from experiments.gan_common import adversarial_config


def get_config() -> ml_collections.ConfigDict:
    return adversarial_config("ddgan", "moons", steps=15_000)

if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ddgan_moons", *sys.argv[1:]]))
