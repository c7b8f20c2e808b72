"""VAE with a flow posterior on scikit-learn's 8x8 digits: q(z | x) a Gaussian pushed through IAF layers.

    python -m experiments.vae_flow_digits
    python -m experiments.vae_flow_digits --config.model.posterior=spline   # or coupling
    genjax eval --workdir runs/vae_flow_digits

The VAE of ``vae_digits`` with its diagonal Gaussian posterior replaced by the base Gaussian
pushed through two affine IAF layers (Kingma et al. 2016) in their parallel direction, each a
MADE conditioned on a 16-d context the encoder outputs: one pass gives the draw and log q.
"""

from experiments.vae_common import digits_config, digits_vae


def get_config():
    return digits_config({**digits_vae(), "posterior": "iaf", "flow_layers": 2, "flow_hidden": (64, 64),
                          "context_dim": 16, "kl_warmup_steps": 500})


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
