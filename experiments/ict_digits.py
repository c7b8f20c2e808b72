"""Improved consistency training on scikit-learn digits (64-d), without a teacher: 1-, 2- and 4-step samples.

    python -m experiments.ict_digits
    genjax eval --workdir runs/ict_digits

The 8x8 images (values 0..16, dequantized uniformly to [0, 1)) are mapped to [-1, 1), where
their standard deviation is about 0.7 (``sigma_data``). The network is the EDM digits run's
(3x512 SiLU MLP, 64-d sinusoidal embedding); iCT's doubling curriculum (10 -> 1280 levels)
runs over the whole training (``model.total_steps = train.steps``), with log-normal level pairs,
weights 1 / (sigma_{i+1} - sigma_i), the pseudo-Huber metric and no EMA target. Evaluation: W2 of
2000 one-, two- and four-step samples to the 300 test digits, next to the W2 floor. It is the
consistency family's ``digits`` leaderboard experiment (a model that trains from scratch).
"""

import ml_collections

from genjax.config import default_config


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "digits"
    c.data.batch_size = 256

    c.model = ml_collections.ConfigDict()
    c.model.name = "ict"
    c.model.sigma_data = 0.7
    c.model.hidden = (512, 512, 512)
    c.model.time_dim = 64
    c.model.sampler = "cm@1"

    c.train.steps = 8000
    c.model.total_steps = c.train.steps
    c.train.lr = 1e-3
    c.train.schedule = "cosine"
    c.train.warmup_steps = 200
    c.train.ema_decay = 0.999
    c.train.steps_per_dispatch = 100
    c.train.log_every = 500
    c.train.checkpoint_every = 4000

    c.eval.samplers = ("cm@1", "cm@2", "cm@4")
    c.eval.repeats = 3
    c.eval.batch_size = 300
    c.eval.mmd = False
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ict_digits", *sys.argv[1:]]))
