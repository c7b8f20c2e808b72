"""IWAE on scikit-learn's 8x8 digits: the VAE of ``vae_digits`` trained on the K-sample bound.

    python -m experiments.iwae_digits                                   # K = 5
    python -m experiments.iwae_digits --config.model.train_samples=50 --workdir runs/iwae50_digits
    genjax eval --workdir runs/iwae_digits

The same encoder, decoder and optimiser as ``vae_digits``; the loss is ``-IWAE_K``, the
importance-weighted bound with K posterior draws per example (Burda et al. 2016), K = 5 here
and 50 with the override above. Evaluated like every digits VAE: the K = 1000 bound on the test
images in bits/dim.
"""

from experiments.vae_common import digits_config, digits_vae


def get_config():
    return digits_config({**digits_vae(), "objective": "iwae", "train_samples": 5})


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
