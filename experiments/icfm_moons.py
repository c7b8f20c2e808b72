"""I-CFM (independent coupling, sigma = 0.1): N(0, I) -> moons.

    python -m experiments.icfm_moons
    genjax train --config experiments/icfm_moons.py --workdir runs/icfm_moons
    genjax eval --workdir runs/icfm_moons

Settings shared by the 2-D flow matching experiments: `experiments/fm_common.py`.
"""

from experiments.fm_common import cfm_config


def get_config():
    return cfm_config("icfm", "moons")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/icfm_moons", *sys.argv[1:]]))
