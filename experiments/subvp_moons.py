"""Score SDE on moons: sub-VP SDE (linear beta 0.1..20): the VP drift with less diffusion, variance (1 - alpha_bar)^2.

    python -m experiments.subvp_moons
    genjax train --config experiments/subvp_moons.py --workdir runs/subvp_moons --config.train.steps=2000
    genjax eval --workdir runs/subvp_moons

Everything else (network, training, evaluation) is experiments/vp_moons.py.
"""

import pathlib

import ml_collections

from genjax.config import load_config_file


def get_config() -> ml_collections.ConfigDict:
    c = load_config_file(pathlib.Path(__file__).with_name("vp_moons.py"))
    c.model.sde = "subvp"
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/subvp_moons", *sys.argv[1:]]))
