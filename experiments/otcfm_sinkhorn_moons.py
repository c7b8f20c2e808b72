"""OT-CFM with minibatch OT on the device (epsilon-scaled Sinkhorn, sigma = 0.1): N(0, I) -> moons.

    python -m experiments.otcfm_sinkhorn_moons
    genjax eval --workdir runs/otcfm_sinkhorn_moons

The exact-OT run of the same task is `experiments/otcfm_moons.py`; settings shared by the 2-D
flow matching experiments: `experiments/fm_common.py`.
"""

from experiments.fm_common import cfm_config


def get_config():
    return cfm_config("otcfm_sinkhorn", "moons")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/otcfm_sinkhorn_moons", *sys.argv[1:]]))
