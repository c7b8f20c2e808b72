"""Shared by the VAE experiments (not an experiment): their training set-up and the digits model.

The digits experiments train on the 1497 training images of scikit-learn's 8x8 digits and report
the importance-weighted bound (K = 1000 draws) on the 300 test images in bits/dim with the
dequantization convention of the flows on the same split (docs/flows.md): the discretised
logistic decoder gives a density of the dequantized pixels ``(v + u) / 17``, so
``(NLL + 64 log 17) / (64 log 2)`` is the bound on the discrete NLL, comparable to MAF's 2.210.
"""

from __future__ import annotations

import ml_collections

from experiments.flow_common import experiment_main
from genjax.config import default_config

__all__ = ["digits_config", "digits_vae", "experiment_main", "vae_config"]


def vae_config(data: str, model: dict, *, steps: int, batch_size: int = 128, lr: float = 1e-3,
               weight_decay: float = 1e-3, steps_per_dispatch: int = 100, num_samples: int = 300,
               repeats: int = 1) -> ml_collections.ConfigDict:
    """The training set-up the VAE experiments share: AdamW, cosine decay after a short warmup,
    loose gradient clipping (a guard, not a regulariser), no EMA."""
    c = default_config()
    c.data.name = data
    c.data.batch_size = batch_size
    c.model = ml_collections.ConfigDict(model)
    c.train.update({"steps": steps, "optimizer": "adamw", "weight_decay": weight_decay, "lr": lr,
                    "schedule": "cosine", "warmup_steps": 100, "grad_clip": 100.0, "ema_decay": 0.0,
                    "steps_per_dispatch": steps_per_dispatch, "log_every": max(steps // 10, 1),
                    "checkpoint_every": max(steps // 2, 1)})
    c.eval.update({"num_samples": num_samples, "repeats": repeats, "mmd": False})
    return c


def digits_vae() -> dict:
    """The one-group VAE every digits experiment starts from: MLP encoder and decoder (2 x 128,
    SiLU), 16 latent dimensions, a discretised-logistic decoder onto the 17 levels."""
    return {"name": "vae", "latent_dim": 16, "hidden": (128, 128), "likelihood": "logistic"}


def digits_config(model: dict, *, steps: int = 4000) -> ml_collections.ConfigDict:
    """The digits set-up: 4000 steps of 128 images (1497 training images overfit: small nets,
    weight decay), evaluated on the 300 test images."""
    return vae_config("digits", model, steps=steps)
