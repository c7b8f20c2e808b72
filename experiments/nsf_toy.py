"""Neural spline flow (rational-quadratic spline couplings) on a 2-D toy set.

    python -m experiments.nsf_toy                                  # 8gaussians; prints the true entropy
    python -m experiments.nsf_toy --config.data.name=checkerboard  # or 2spirals, rings
    genjax train --config experiments/nsf_toy.py --workdir runs/nsf_rings --config.data.name=rings

The strongest coupling flow on 2-D data: 8 spline couplings (16 bins on [-5, 5], identity
outside), each conditioned by a 2 x 128 MLP on the other coordinate. Log-likelihood is exact.
"""

from experiments.flow_common import toy_config


def get_config():
    return toy_config(
        {"name": "nsf", "num_layers": 8, "hidden": (128, 128), "num_bins": 16, "bound": 5.0, "permute": "reverse"},
        steps=5000,
        lr=1e-3,
    )


if __name__ == "__main__":
    import sys

    from experiments.flow_common import toy_main

    sys.exit(toy_main(__file__))
