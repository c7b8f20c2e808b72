"""Masked autoregressive flow (MAF) on a 2-D toy set.

    python -m experiments.maf_toy                                  # 8gaussians; prints the true entropy
    python -m experiments.maf_toy --config.data.name=checkerboard  # or 2spirals, rings
    genjax train --config experiments/maf_toy.py --workdir runs/maf_rings --config.data.name=rings

Eight MADE-conditioned affine layers with the order reversed between them: density in one
pass, sampling in one pass per dimension. Log-likelihood is exact.
"""

from experiments.flow_common import toy_config


def get_config():
    return toy_config({"name": "maf", "num_layers": 8, "hidden": (128, 128), "permute": "reverse"})


if __name__ == "__main__":
    import sys

    from experiments.flow_common import toy_main

    sys.exit(toy_main(__file__))
