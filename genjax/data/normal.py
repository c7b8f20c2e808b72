"""An isotropic Gaussian ``N(mean * 1, std^2 I)`` in ``dim`` dimensions, sampled i.i.d. in pure JAX.

The distribution with closed-form answers: Gaussian-to-Gaussian transport (the Schrödinger
bridge and OT maps between Gaussians are known exactly), so it is the benchmark of any
data-to-data method. Point ``i`` of a sample is drawn from ``fold_in(key, i)`` (the first ``m``
points do not depend on ``num``, as for the toy sets); the held-out key depends on the options,
so two such sets (a source and a target) never share their held-out noise.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from genjax.data.arrays import held_out_key
from genjax.data.base import Batch, Dataset
from genjax.errors import DataError

DEFAULT_TEST_SIZE = 2000


@functools.partial(jax.jit, static_argnums=(1, 2))
def _sample(key: jax.Array, num: int, dim: int, mean: float, std: float) -> jax.Array:
    z = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (dim,)))(jnp.arange(num))
    return mean + std * z


class NormalDataset(Dataset):
    """``N(mean * 1, std^2 I)`` over ``(dim,)``; no labels.

    Args:
      dim: number of dimensions.
      mean: the mean of every coordinate.
      std: the standard deviation of every coordinate.
    """

    in_memory = True

    def __init__(self, dim: int = 2, mean: float = 0.0, std: float = 1.0):
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise DataError(f"dataset 'normal' option dim = {dim!r}: expected an integer >= 1")
        if not isinstance(std, (int, float)) or isinstance(std, bool) or not std > 0:
            raise DataError(f"dataset 'normal' option std = {std!r}: expected a float > 0")
        if not isinstance(mean, (int, float)) or isinstance(mean, bool):
            raise DataError(f"dataset 'normal' option mean = {mean!r}: expected a float")
        self.name = "normal"
        self.event_shape = (dim,)
        self.mean, self.std = float(mean), float(std)
        self._held_out = held_out_key(f"normal:{dim}:{self.mean!r}:{self.std!r}")

    def sample(self, key: jax.Array, num: int) -> Batch:
        """``num`` fresh i.i.d. points: ``{"x": float32 [num, dim]}``."""
        return {"x": _sample(key, num, self.event_shape[0], self.mean, self.std)}

    def train_batch(self, key: jax.Array, step, batch_size: int) -> Batch:
        """``sample(fold_in(key, step), batch_size)``; jit/vmap-able with traced key and step."""
        return self.sample(jax.random.fold_in(key, step), batch_size)

    def test_batch(self, num: int | None = None) -> Batch:
        """A fixed held-out sample of ``num`` points (default 2000)."""
        return self.sample(self._held_out, DEFAULT_TEST_SIZE if num is None else num)
