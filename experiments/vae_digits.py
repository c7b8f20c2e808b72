"""Gaussian VAE on scikit-learn's 8x8 digits: the IWAE bound (K = 1000) on the 300 test images.

    python -m experiments.vae_digits
    genjax train --config experiments/vae_digits.py --workdir runs/vae_digits
    genjax eval --workdir runs/vae_digits

An MLP encoder and decoder (2 x 128, SiLU), 16 latent dimensions with a diagonal Gaussian
posterior, and a discretised-logistic decoder onto the 17 pixel levels, trained on the ELBO
with a short KL warm-up (AdamW, 4000 steps of 128 images). Bits/dim is the IWAE bound's, with the dequantization convention of the
digits flows (``vae_common``). Evaluation adds the ELBO and its parts, the IWAE bound at K = 10
and 100, the KL and the active units.
"""

from experiments.vae_common import digits_config, digits_vae


def get_config():
    return digits_config({**digits_vae(), "kl_warmup_steps": 500})


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
