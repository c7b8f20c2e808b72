"""Improved consistency training on moons: pseudo-Huber, doubling curriculum, log-normal levels, no EMA target.

    python -m experiments.ict_moons
    genjax eval --workdir runs/ict_moons

Evaluation: W2 of 1-, 2- and 4-step samples to held-out moons, next to the W2 floor.
Settings shared by the 2-D consistency experiments: ``experiments/cm_common.py``.
"""

from experiments.cm_common import cm_2d_config, teacher_of

TEACHER = teacher_of("ict", "moons")


def get_config():
    return cm_2d_config("ict", "moons")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ict_moons", *sys.argv[1:]]))
