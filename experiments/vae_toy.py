"""A VAE on a 2-D toy set (8gaussians by default): a 2-d latent, a Gaussian decoder with learned scale.

    python -m experiments.vae_toy
    python -m experiments.vae_toy --config.data.name=pinwheel --workdir runs/vae_pinwheel
    genjax eval --workdir runs/vae_toy

MLP encoder and decoder (2 x 128), ``p(x | z) = N(mu(z), diag(sigma(z)^2))``. Evaluation
reports the IWAE bound (K = 1000) as the test NLL (an upper bound on the NLL; the 8gaussians
entropy is 2.833 nats), W2 of samples to held-out points against the data's own W2 floor, and
the ELBO, KL and active units. Plots: samples and reconstructions over the data.
"""

from experiments.vae_common import vae_config


def get_config():
    model = {"name": "vae", "latent_dim": 2, "hidden": (128, 128), "likelihood": "gaussian", "gaussian_scale": "output",
             "kl_warmup_steps": 500}
    return vae_config("8gaussians", model, steps=10_000, batch_size=256, weight_decay=0.0, num_samples=2000, repeats=3)


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
