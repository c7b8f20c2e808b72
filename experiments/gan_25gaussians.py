"""GAN baseline on the 5x5 grid of Gaussians: MLP generator and discriminator, non-saturating loss, R1.

    python -m experiments.gan_25gaussians
    genjax train --config experiments/gan_25gaussians.py --workdir runs/gan_25gaussians
    genjax eval --workdir runs/gan_25gaussians
    python -m benchmarks.gan_25gaussians        # the docs/gan.md table

A 3x128 ReLU generator of an 8-d Gaussian latent against a 3x128 leaky-ReLU discriminator,
one discriminator and one generator Adam update per step (each with its own optimiser,
``train.groups.gen`` / ``train.groups.disc``), R1 on real data. Evaluation reports W2 to
held-out points next to the floor and, through ``extra_metrics``, the modes covered (of 25) and
the fraction of high-quality samples (within 3 std of a mode), from the EMA generator.
"""

import ml_collections

from experiments.gan_common import adversarial_config


def get_config() -> ml_collections.ConfigDict:
    c = adversarial_config("gan", "25gaussians")
    c.model.spectral_norm = False
    return c

if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/gan_25gaussians", *sys.argv[1:]]))
