"""Rectified flow's reflow (Liu et al. 2023): pairs ``(x0, T(x0))`` from a trained flow ``T``.

k-reflow trains flow k+1 on the deterministic coupling of flow k: source draws and the ODE's
end points. Its paths cross less, so its flow is straighter and few-step (even one-step)
Euler sampling gets close to the ODE solution. The pairs are generated once (not in every
training step) and stored in a ``.npz`` that the next model reads through
``model.coupling = "pairs"`` and ``model.pairs = <file>``; ``experiments/reflow_rounds.py``
runs the rounds through the ordinary trainer.
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np


def generate_pairs(model, params, key: jax.Array, num: int, *, sampler: str | None = None,
                   chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """``num`` pairs ``(x0 [num, *event], x1 [num, *event])`` with ``x1`` the ODE solution from x0.

    Solved in chunks of ``chunk`` points (one compiled solve), each from its own key.
    """
    chunk = min(chunk, num)

    @jax.jit
    def one(k):
        x0 = model.source.sample(k, chunk)
        return x0, model.sample(params, k, chunk, sampler=sampler, x0=x0)

    x0s, x1s = [], []
    for i in range(-(-num // chunk)):
        x0, x1 = jax.device_get(one(jax.random.fold_in(key, i)))
        x0s.append(np.asarray(x0))
        x1s.append(np.asarray(x1))
    x0, x1 = np.concatenate(x0s)[:num], np.concatenate(x1s)[:num]
    if not np.all(np.isfinite(x1)):
        raise FloatingPointError("the teacher flow produced non-finite samples; reflow needs a trained flow")
    return x0, x1


def save_pairs(path, x0, x1, **meta) -> pathlib.Path:
    """Writes pairs (and string/number metadata) to ``path`` (an ``.npz``)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x0=np.asarray(x0, np.float32), x1=np.asarray(x1, np.float32), **meta)
    return path


def load_pairs(path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as f:
        return np.asarray(f["x0"]), np.asarray(f["x1"])

