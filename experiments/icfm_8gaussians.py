"""I-CFM (independent coupling, sigma = 0.1): N(0, I) -> 8gaussians.

    python -m experiments.icfm_8gaussians
    genjax train --config experiments/icfm_8gaussians.py --workdir runs/icfm_8gaussians
    genjax eval --workdir runs/icfm_8gaussians

Settings shared by the 2-D flow matching experiments: `experiments/fm_common.py`.
"""

from experiments.fm_common import cfm_config


def get_config():
    return cfm_config("icfm", "8gaussians")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/icfm_8gaussians", *sys.argv[1:]]))
