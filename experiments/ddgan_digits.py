"""Denoising diffusion GAN on scikit-learn digits (64-d), T = 4 steps.

    python -m experiments.ddgan_digits
    genjax eval --workdir runs/ddgan_digits
    python -m benchmarks.gan_digits             # W2 against DDPM / DDIM at the same NFE

The 8x8 digits (values 0..16 dequantized to [0, 1)) are mapped to [-1, 1); a 3x256
time-conditioned MLP generator of the clean image from ``(x_{t+1}, t, z)`` with a 32-d latent,
against a gated time-conditional MLP critic ``D(x_t, t, x_{t+1})``, non-saturating loss with
lazy R1. Evaluation reports W2 of 2000 unconditional samples (4 generator calls each) to the 300
test digits, the evaluation docs/diffusion.md reports for the diffusion model.
"""

import ml_collections

from experiments.gan_common import adversarial_config


def get_config() -> ml_collections.ConfigDict:
    c = adversarial_config("ddgan", "digits", width=256, lr=2e-4, latent_dim=32)
    c.train.steps_per_dispatch = 100
    c.eval.repeats = 3
    c.eval.batch_size = 300
    return c

if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ddgan_digits", *sys.argv[1:]]))
