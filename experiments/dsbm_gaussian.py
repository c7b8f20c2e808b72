"""DSBM-IMF on the DSBM paper's Gaussian benchmark: N(-0.1 * 1, I) -> N(0.1 * 1, I), sigma = 1, N = 20.

    python -m experiments.dsbm_gaussian                                   # d = 5
    python -m experiments.dsbm_gaussian --config.data.options.dim=20 --workdir runs/dsbm_gaussian_d20
    genjax train --config experiments/dsbm_gaussian.py --workdir runs/dsbm_gaussian
    genjax eval --workdir runs/dsbm_gaussian

Four outer iterations of 2000 steps (alternating, backward first, from the independent
coupling), evaluated after each: ``backward/{mean,var,coupling_cov}`` and the forward ones
against the optimum -0.1 / 0.1, 1 and (sqrt(5) - 1) / 2 = 0.618 (the closed-form bridge's
per-coordinate Cov(X0, X1)). `python -m benchmarks.bridge_gaussian` runs d = 5, 20, 50 with
SB-CFM and rectified flow on the same pair. Settings: `experiments/bridge_common.py`.
"""

from experiments.bridge_common import gaussian_config


def get_config():
    return gaussian_config("dsbm", 5)


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/dsbm_gaussian", *sys.argv[1:]]))
