"""SB-CFM (one-shot bridge matching on minibatch entropic OT at 2 sigma^2): 8gaussians <-> moons, sigma = 1.

    python -m experiments.sbcfm_8gaussians_moons
    python -m experiments.sbcfm_8gaussians_moons --config.model.sigma=0.3 --workdir runs/sbcfm_8gaussians_moons_s0.3
    genjax eval --workdir runs/sbcfm_8gaussians_moons

The forward and backward drifts are fitted on Brownian bridges between Sinkhorn pairs of each
batch (epsilon = 2 sigma^2 in squared-distance units, never exact OT), as many steps as DSBM takes
in all; evaluation as in `experiments/dsbm_8gaussians_moons.py`. Settings:
`experiments/bridge_common.py`.
"""

from experiments.bridge_common import moons_config


def get_config():
    return moons_config("sbcfm", 1.0)


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/sbcfm_8gaussians_moons", *sys.argv[1:]]))
