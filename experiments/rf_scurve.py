"""Rectified flow with 2 reflows (straight path, independent coupling): N(0, I) -> scurve.

    python -m experiments.rf_scurve                 # 1-RF, then 2-RF and 3-RF on generated pairs
    genjax train --config experiments/rf_scurve.py   # 1-RF only

Runs: runs/rf_scurve/rf1, rf2, rf3 (see `experiments/reflow_rounds.py`). Evaluation reports
W2 at the adaptive solve and at 1 and 4 Euler steps, path energy, straightness and NPE.
"""

from experiments.fm_common import cfm_config


def get_config():
    return cfm_config("rf", "scurve")


if __name__ == "__main__":
    import sys

    from experiments.reflow_rounds import main

    sys.exit(main(["--config", __file__, "--workdir", "runs/rf_scurve", *sys.argv[1:]]))
