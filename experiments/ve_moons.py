"""Score SDE on moons: VE SDE (sigma 0.01..10): x_t = x_0 + sigma(t) z, no drift.

    python -m experiments.ve_moons
    genjax train --config experiments/ve_moons.py --workdir runs/ve_moons --config.train.steps=2000
    genjax eval --workdir runs/ve_moons

Everything else (network, training, evaluation) is experiments/vp_moons.py.
"""

import pathlib

import ml_collections

from genjax.config import load_config_file


def get_config() -> ml_collections.ConfigDict:
    c = load_config_file(pathlib.Path(__file__).with_name("vp_moons.py"))
    c.model.sde = "ve"
    del c.model["beta_min"], c.model["beta_max"]
    c.model.sigma_min = 0.01
    c.model.sigma_max = 10.0  # about the largest distance between two data points (Song & Ermon 2020)
    c.model.t_min = 1e-5
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ve_moons", *sys.argv[1:]]))
