"""Glow steps (ActNorm, LU-decomposed invertible linear map, affine coupling) on a 2-D toy set.

    python -m experiments.glow_toy                                  # 8gaussians; prints the true entropy
    python -m experiments.glow_toy --config.data.name=checkerboard  # or 2spirals, rings
    genjax train --config experiments/glow_toy.py --workdir runs/glow_rings --config.data.name=rings

Eight steps; ActNorm is initialised from the first batch (zero mean, unit variance per
coordinate on the data side). Log-likelihood is exact.
"""

from experiments.flow_common import toy_config


def get_config():
    return toy_config({"name": "glow", "num_layers": 8, "hidden": (128, 128), "lu": True})


if __name__ == "__main__":
    import sys

    from experiments.flow_common import toy_main

    sys.exit(toy_main(__file__))
