"""Consistency distillation of a flow-matching run on moons: its velocity read as a denoiser.

    python -m experiments.fm_moons          # the teacher: writes runs/fm_moons
    python -m experiments.cd_fm_moons
    genjax eval --workdir runs/cd_fm_moons

Needs the trained run ``runs/fm_moons`` (``model.teacher``; a missing run is a one-line
error naming the command that trains it).
Evaluation: W2 of 1-, 2- and 4-step samples to held-out moons, next to the W2 floor.
Settings shared by the 2-D consistency experiments: ``experiments/cm_common.py``.
"""

from experiments.cm_common import cm_2d_config, teacher_of

TEACHER = teacher_of("cd_fm", "moons")


def get_config():
    return cm_2d_config("cd_fm", "moons")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/cd_fm_moons", *sys.argv[1:]]))
