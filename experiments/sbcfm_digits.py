"""SB-CFM as a generator: N(0, I) -> 8x8 digits in [0, 1)^64, sigma = 0.5 (the bridge family's
digits leaderboard entry).

    python -m experiments.sbcfm_digits
    genjax eval --workdir runs/sbcfm_digits

Bridge matching on minibatch entropic OT at epsilon = 2 sigma^2 between Gaussian noise and all
digits (no labels), a 3x256 TimeMLP per direction, sampled forward by Euler-Maruyama on 20
steps. Settings: `experiments/bridge_common.py`.
"""

from experiments.bridge_common import noise_config


def get_config():
    return noise_config("digits", sigma=0.5, hidden=(256, 256, 256), net="time_mlp")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/sbcfm_digits", *sys.argv[1:]]))
