"""Consistency training on 8gaussians without a teacher (Song et al. 2023: N(k) curriculum, EMA target).

    python -m experiments.ct_8gaussians
    genjax eval --workdir runs/ct_8gaussians

Evaluation: W2 of 1-, 2- and 4-step samples to held-out 8gaussians, next to the W2 floor.
Settings shared by the 2-D consistency experiments: ``experiments/cm_common.py``.
"""

from experiments.cm_common import cm_2d_config, teacher_of

TEACHER = teacher_of("ct", "8gaussians")


def get_config():
    return cm_2d_config("ct", "8gaussians")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ct_8gaussians", *sys.argv[1:]]))
