"""Shared by the EDM experiments (not an experiment): the 2-D set-up of ``experiments/edm_*.py``.

The network and optimiser of the DDPM / score-SDE moons runs (4x128 SiLU MLP, 64-d sinusoidal
embedding, batch 1024, Adam 2e-3 with a cosine decay, EMA 0.999), so that the results page
compares samplers of comparably trained models; EDM's own parts are its preconditioning
(``sigma_data`` set to the data's standard deviation), log-normal training levels and loss
weighting, and its samplers on the rho grid.
"""

from __future__ import annotations

import ml_collections

from genjax.config import default_config

# The data's standard deviation over both coordinates (100k draws): EDM's sigma_data.
SIGMA_DATA = {"moons": 1.43, "8gaussians": 2.03}


def edm_2d_config(data: str) -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = data
    c.data.batch_size = 1024

    c.model = ml_collections.ConfigDict()
    c.model.name = "edm"
    c.model.sigma_data = SIGMA_DATA[data]
    c.model.sigma_min = 0.002
    c.model.sigma_max = 80.0
    c.model.hidden = (128, 128, 128, 128)
    c.model.time_dim = 64
    c.model.sampler = "edm_heun@18"

    c.train.steps = 10_000
    c.train.lr = 2e-3
    c.train.schedule = "cosine"
    c.train.warmup_steps = 200
    c.train.ema_decay = 0.999
    c.train.steps_per_dispatch = 100
    c.train.log_every = 1000
    c.train.checkpoint_every = 5000

    c.eval.samplers = ("edm_heun@18", "edm_euler@35", "edm_stochastic@18", "ddim@50", "ode")
    c.eval.repeats = 10
    c.eval.mmd = False
    return c
