"""Denoising diffusion GAN on the 5x5 grid of Gaussians: T = 4 steps (``--config.model.num_steps``).

    python -m experiments.ddgan_25gaussians
    python -m experiments.ddgan_25gaussians --workdir runs/ddgan_25gaussians_T8 --config.model.num_steps=8
    genjax eval --workdir runs/ddgan_25gaussians
    python -m benchmarks.gan_25gaussians        # the docs/gan.md table

The VP process of beta 0.1 .. 20 on T steps (DDGAN's discretisation, ``vp_betas``); a 3x128
time-conditioned generator ``G(x_{t+1}, t, z)`` of the clean point (8-d latent) whose sample
``x_t`` is drawn from the DDPM posterior, against a time-conditional 3x128 discriminator
``D(x_t, t, x_{t+1})``, non-saturating loss with R1 on real ``x_t``. Evaluation samples in T
steps from the EMA generator and reports W2 with its floor, the modes covered and the
high-quality fraction.
"""

import ml_collections

from experiments.gan_common import adversarial_config


def get_config() -> ml_collections.ConfigDict:
    return adversarial_config("ddgan", "25gaussians")

if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ddgan_25gaussians", *sys.argv[1:]]))
