"""Pictures of a trained 2-D CNF: sample paths from noise to data, and its density."""

from __future__ import annotations

import pathlib

import jax
import numpy as np

from genjax import metrics as gm


def plot_trajectories(model, params, path, *, num: int = 500, points: int = 33, seed: int = 0,
                      reference=None) -> pathlib.Path:
    """Paths of ``num`` base draws carried by the flow to the data (2-D events only)."""
    xs = jax.jit(lambda p, k: model.trajectories(p, k, num, points=points))(params, jax.random.key(seed))
    return gm.trajectory_plot(np.asarray(xs), path, reference=reference, title="CNF sample paths (noise -> data)")


def plot_density(model, params, path, *, lim: float = 4.0, resolution: int = 200) -> pathlib.Path:
    """``exp(log_prob)`` on a ``resolution^2`` grid over ``[-lim, lim]^2``."""
    log_prob = jax.jit(lambda p, x: model.log_prob(p, x))
    return gm.density_plot(lambda pts: log_prob(params, pts), path, lim=lim, resolution=resolution,
                           title="CNF density")
