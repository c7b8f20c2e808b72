"""Consistency distillation of a flow-matching run on 8gaussians: its velocity read as a denoiser.

    genjax train --config experiments/rf_8gaussians.py --workdir runs/rf_8gaussians   # the teacher (1-RF)
    python -m experiments.cd_fm_8gaussians
    genjax eval --workdir runs/cd_fm_8gaussians

Needs the trained run ``runs/rf_8gaussians`` (``model.teacher``; a missing run is a one-line
error naming the command that trains it).
Evaluation: W2 of 1-, 2- and 4-step samples to held-out 8gaussians, next to the W2 floor.
Settings shared by the 2-D consistency experiments: ``experiments/cm_common.py``.
"""

from experiments.cm_common import cm_2d_config, teacher_of

TEACHER = teacher_of("cd_fm", "8gaussians")


def get_config():
    return cm_2d_config("cd_fm", "8gaussians")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/cd_fm_8gaussians", *sys.argv[1:]]))
