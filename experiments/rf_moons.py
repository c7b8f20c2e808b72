"""Rectified flow with 2 reflows (straight path, independent coupling): N(0, I) -> moons.

    python -m experiments.rf_moons                 # 1-RF, then 2-RF and 3-RF on generated pairs
    genjax train --config experiments/rf_moons.py   # 1-RF only

Runs: runs/rf_moons/rf1, rf2, rf3 (see `experiments/reflow_rounds.py`). Evaluation reports
W2 at the adaptive solve and at 1 and 4 Euler steps, path energy, straightness and NPE.
"""

from experiments.fm_common import cfm_config


def get_config():
    return cfm_config("rf", "moons")


if __name__ == "__main__":
    import sys

    from experiments.reflow_rounds import main

    sys.exit(main(["--config", __file__, "--workdir", "runs/rf_moons", *sys.argv[1:]]))
