"""OT-CFM (exact minibatch OT coupling, sigma = 0.1): N(0, I) -> scurve.

    python -m experiments.otcfm_scurve
    genjax train --config experiments/otcfm_scurve.py --workdir runs/otcfm_scurve
    genjax eval --workdir runs/otcfm_scurve

Settings shared by the 2-D flow matching experiments: `experiments/fm_common.py`.
"""

from experiments.fm_common import cfm_config


def get_config():
    return cfm_config("otcfm", "scurve")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/otcfm_scurve", *sys.argv[1:]]))
