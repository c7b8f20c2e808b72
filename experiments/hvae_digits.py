"""NVAE-style hierarchical VAE on scikit-learn's 8x8 digits: the IWAE bound (K = 1000) on the test images.

    python -m experiments.hvae_digits
    genjax train --config experiments/hvae_digits.py --workdir runs/hvae_digits
    genjax eval --workdir runs/hvae_digits

Three latent groups of 16 dimensions on the 64-d vectors: a bottom-up tower and a shared
top-down path of residual MLP cells (width 128), a residual posterior (q's mean and log-scale as
offsets of the prior's) and a discretised-logistic decoder onto the 17 levels. KL warm-up with
KL balancing across the groups, spectral regularisation by power iteration. Evaluation reports
the KL and the active units of each group. (``hvae_mnist`` runs the convolutional cells.)
"""

from experiments.vae_common import digits_config


def get_config():
    return digits_config({"name": "hvae", "num_groups": 3, "latent_dim": 16, "width": 128, "likelihood": "logistic",
                          "kl_warmup_steps": 500, "spectral_reg": 1e-3})


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
