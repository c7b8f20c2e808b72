"""Consistency distillation of the EDM digits run: 1- and 2-step samples of 8x8 digits.

    python -m experiments.edm_digits          # the teacher: writes runs/edm_digits
    python -m experiments.cd_digits
    genjax eval --workdir runs/cd_digits

The student starts from the teacher's network and learns, with one Heun teacher step between
adjacent levels of an 18-level rho grid and an EMA target (0.95), to map any level to the data
end. Evaluation: W2 of 2000 one-, two- and four-step samples to the 300 test digits (the
teacher's Heun W2 at 18 and 50 steps is in its own evaluation).
"""

import ml_collections

from genjax.config import default_config

TEACHER = "edm_digits"


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "digits"
    c.data.batch_size = 256

    c.model = ml_collections.ConfigDict()
    c.model.name = "cd"
    c.model.teacher = f"runs/{TEACHER}"
    c.model.num_levels = 18
    c.model.solver = "heun"
    c.model.target_decay = 0.95
    c.model.sampler = "cm@1"

    c.train.steps = 8000
    c.train.lr = 2e-4
    c.train.schedule = "cosine"
    c.train.warmup_steps = 200
    c.train.ema_decay = 0.999
    c.train.steps_per_dispatch = 100
    c.train.log_every = 500
    c.train.checkpoint_every = 4000

    c.eval.samplers = ("cm@1", "cm@2", "cm@4")
    c.eval.repeats = 3
    c.eval.mmd = False
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/cd_digits", *sys.argv[1:]]))
