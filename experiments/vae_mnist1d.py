"""A VAE on MNIST-1D (40-d standardized signals, 4000 / 1000): Gaussian decoder with learned scales.

    python -m experiments.vae_mnist1d
    genjax eval --workdir runs/vae_mnist1d

MLP encoder and decoder (2 x 256), 10 latent dimensions, ``p(x | z)`` a diagonal Gaussian whose
scales the decoder outputs. The test NLL is the IWAE bound (K = 1000) on the 1000 test signals
(a continuous density: no dequantization); evaluation adds W2 to the test signals, the ELBO,
KL and active units. Plots: samples (first two coordinates) and reconstructions of test signals.
"""

from experiments.vae_common import vae_config


def get_config():
    model = {"name": "vae", "latent_dim": 10, "hidden": (256, 256), "likelihood": "gaussian", "gaussian_scale": "output",
             "kl_warmup_steps": 500}
    return vae_config("mnist1d", model, steps=6000, batch_size=256, weight_decay=1e-4, num_samples=1000)


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
