"""NICE (additive couplings + diagonal scaling) on a 2-D toy set.

    python -m experiments.nice_toy                                  # 8gaussians; prints the true entropy
    python -m experiments.nice_toy --config.data.name=checkerboard  # or 2spirals, rings
    genjax train --config experiments/nice_toy.py --workdir runs/nice_rings --config.data.name=rings

Eight additive (volume-preserving) couplings alternating halves, each conditioned by a
2 x 128 MLP, and NICE's diagonal scaling on the base side. Log-likelihood is exact.
"""

from experiments.flow_common import toy_config


def get_config():
    return toy_config({"name": "nice", "num_layers": 4, "hidden": (128, 128)})


if __name__ == "__main__":
    import sys

    from experiments.flow_common import toy_main

    sys.exit(toy_main(__file__))
