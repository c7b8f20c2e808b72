"""SB-CFM as a generator: N(0, I) -> moons, sigma = 0.3 (the bridge family's 2-D leaderboard entry).

    python -m experiments.sbcfm_moons
    genjax eval --workdir runs/sbcfm_moons

Bridge matching on minibatch entropic OT at epsilon = 2 sigma^2 between Gaussian noise and the
data, sampled forward by Euler-Maruyama on 20 steps; the same settings as
`experiments/sbcfm_8gaussians_moons.py` (torchcfm's 2-D net, 200 Sinkhorn iterations at this
epsilon) with the standard normal as the source. Settings: `experiments/bridge_common.py`.
"""

from experiments.bridge_common import noise_config


def get_config():
    return noise_config("moons", sigma=0.3)


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/sbcfm_moons", *sys.argv[1:]]))
