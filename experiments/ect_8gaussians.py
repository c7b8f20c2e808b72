"""Easy consistency tuning of the EDM run on 8gaussians: r(t) moves toward t by stages, shared noise.

    python -m experiments.edm_8gaussians          # the teacher: writes runs/edm_8gaussians
    python -m experiments.ect_8gaussians
    genjax eval --workdir runs/ect_8gaussians

Needs the trained run ``runs/edm_8gaussians`` (``model.teacher``; a missing run is a one-line
error naming the command that trains it).
Evaluation: W2 of 1-, 2- and 4-step samples to held-out 8gaussians, next to the W2 floor.
Settings shared by the 2-D consistency experiments: ``experiments/cm_common.py``.
"""

from experiments.cm_common import cm_2d_config, teacher_of

TEACHER = teacher_of("ect", "8gaussians")


def get_config():
    return cm_2d_config("ect", "8gaussians")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ect_8gaussians", *sys.argv[1:]]))
