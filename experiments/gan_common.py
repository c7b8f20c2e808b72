"""Shared by the adversarial experiments (not an experiment): the settings of their training.

One discriminator and one generator Adam update per step, each with its own optimiser state
(``train.groups.gen`` / ``train.groups.disc`` may set them apart), Adam (0.5, 0.99) at a constant
learning rate as GANs are usually trained, EMA 0.999 of the parameters (evaluation samples the
EMA generator), the non-saturating loss with R1 (gamma 0.1) applied lazily every 4 steps, and
MLPs of three hidden layers for vector data.
"""

from __future__ import annotations

import ml_collections

from genjax.config import default_config


def adversarial_config(model: str, dataset: str, *, width: int = 128, lr: float = 5e-4, latent_dim: int = 8,
                       steps: int = 20_000, batch_size: int = 256) -> ml_collections.ConfigDict:
    """The config of ``model`` ("gan" or "ddgan") on ``dataset`` with MLPs of ``width`` units."""
    c = default_config()
    c.data.name = dataset
    c.data.batch_size = batch_size

    c.model = ml_collections.ConfigDict()
    c.model.name = model
    if model == "ddgan":
        c.model.num_steps = 4
        c.model.beta_min = 0.1
        c.model.beta_max = 20.0
        c.model.time_dim = 64
    c.model.latent_dim = latent_dim
    c.model.gen_hidden = (width,) * 3
    c.model.disc_hidden = (width,) * 3
    c.model.loss = "non_saturating"
    c.model.r1_gamma = 0.1
    c.model.r1_every = 4

    c.train.steps = steps
    c.train.optimizer = "adam"
    c.train.lr = lr
    c.train.b1 = 0.5
    c.train.b2 = 0.99
    c.train.schedule = "constant"
    c.train.ema_decay = 0.999
    c.train.steps_per_dispatch = 200
    c.train.log_every = 1000
    c.train.checkpoint_every = 5000

    c.eval.samplers = ("default",)
    c.eval.repeats = 5
    return c
