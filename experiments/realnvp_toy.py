"""RealNVP (affine couplings) on a 2-D toy set.

    python -m experiments.realnvp_toy                                  # 8gaussians; prints the true entropy
    python -m experiments.realnvp_toy --config.data.name=checkerboard  # or 2spirals, rings
    genjax train --config experiments/realnvp_toy.py --workdir runs/realnvp_rings --config.data.name=rings

Eight affine couplings (log-scale bounded by 3 tanh(s/3)) with the halves swapped between them,
each conditioned by a 2 x 128 MLP. Log-likelihood is exact.
"""

from experiments.flow_common import toy_config


def get_config():
    return toy_config({"name": "realnvp", "num_layers": 8, "hidden": (128, 128), "permute": "reverse"})


if __name__ == "__main__":
    import sys

    from experiments.flow_common import toy_main

    sys.exit(toy_main(__file__))
