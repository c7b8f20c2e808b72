"""Easy consistency tuning of the EDM run on moons: r(t) moves toward t by stages, shared noise.

    python -m experiments.edm_moons          # the teacher: writes runs/edm_moons
    python -m experiments.ect_moons
    genjax eval --workdir runs/ect_moons

Needs the trained run ``runs/edm_moons`` (``model.teacher``; a missing run is a one-line
error naming the command that trains it).
Evaluation: W2 of 1-, 2- and 4-step samples to held-out moons, next to the W2 floor.
Settings shared by the 2-D consistency experiments: ``experiments/cm_common.py``.
"""

from experiments.cm_common import cm_2d_config, teacher_of

TEACHER = teacher_of("ect", "moons")


def get_config():
    return cm_2d_config("ect", "moons")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ect_moons", *sys.argv[1:]]))
