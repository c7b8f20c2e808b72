"""Consistency distillation of the EDM CIFAR-10 run (GPU): one- and two-step image generation.

    python -m experiments.edm_cifar10          # the teacher: writes runs/edm_cifar10
    python -m experiments.cd_cifar10
    genjax eval --workdir runs/cd_cifar10

Song et al.'s CD recipe with the student starting from the teacher's UNet: 18 levels from 0.002
to 80, one Heun teacher step between adjacent levels, EMA target 0.95, and the pseudo-Huber
distance on the image's norm (c = 0.00054 sqrt(3072)) in place of LPIPS (no pretrained
perceptual network ships with genjax); Adam 1e-4, batch 128, EMA 0.9999. Evaluation writes
one- and two-step sample grids. Sized for one GPU; the tests run two steps of it, narrowed,
on tfds mock data after a two-step narrowed teacher.
"""

import ml_collections

from genjax.config import default_config

TEACHER = "edm_cifar10"


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "cifar10"
    c.data.batch_size = 128

    c.model = ml_collections.ConfigDict()
    c.model.name = "cd"
    c.model.teacher = f"runs/{TEACHER}"
    c.model.num_levels = 18
    c.model.solver = "heun"
    c.model.target_decay = 0.95
    c.model.metric = "pseudo_huber"
    c.model.sampler = "cm@1"

    c.train.steps = 200_000
    c.train.lr = 1e-4
    c.train.schedule = "constant"
    c.train.warmup_steps = 1000
    c.train.grad_clip = 1.0
    c.train.ema_decay = 0.9999
    c.train.steps_per_dispatch = 50
    c.train.log_every = 1000
    c.train.checkpoint_every = 10_000

    c.eval.samplers = ("cm@1", "cm@2")
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/cd_cifar10", *sys.argv[1:]]))
