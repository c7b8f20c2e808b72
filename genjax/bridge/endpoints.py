"""The two ends of a bridge: a dataset, or a Gaussian ``N(mean * 1, std^2 I)``.

An endpoint draws training points inside the train step (``sample``, pure JAX) and gives the
fixed held-out points evaluation compares generated samples with (``held_out``), plus, where
the distribution can be sampled afresh, independent draws for the W2 floor (``fresh``).
"""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp

from genjax.flow_matching import DatasetSource

# Held-out draws of a Gaussian endpoint come from this key, folded with its parameters.
_HELD_OUT_SEED = 0x0B1D6E


class DatasetEndpoint(DatasetSource):
    """A genjax dataset as one end of a bridge (flow matching's ``DatasetSource``, plus held-out data).

    ``sample(key, num)`` draws fresh points from a synthetic set and distinct training examples
    from a finite one; more points than the finite set holds are whole epochs of its stream
    (each example once per epoch, with fresh dequantization noise), so a class subset of a
    hundred examples can still feed a plot of thousands of samples.
    """

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        ds = self.dataset
        if ds.is_synthetic or num <= ds.num_train:
            return super().sample(key, num)
        epochs = -(-num // ds.num_train)
        x = jnp.concatenate([ds.train_batch(key, e, ds.num_train)["x"] for e in range(epochs)])
        return x[:num]

    def held_out(self, num: int) -> jax.Array:
        """The first ``num`` held-out points (all of a finite test set, if it has fewer)."""
        ds = self.dataset
        if not ds.is_synthetic:
            num = min(num, ds.num_test)
        return ds.test_batch(num)["x"]

    def fresh(self, key: jax.Array, num: int) -> jax.Array | None:
        """``num`` new i.i.d. draws (synthetic sets), or None (a finite set has no more)."""
        return self.dataset.sample(key, num)["x"] if self.dataset.is_synthetic else None


class GaussianEndpoint:
    """``N(mean * 1, std^2 I)`` over ``event_shape``.

    Args:
      event_shape: shape of one point.
      mean: the mean of every coordinate.
      std: the standard deviation of every coordinate.
    """

    def __init__(self, event_shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0):
        self.event_shape = tuple(event_shape)
        self.mean, self.std = float(mean), float(std)
        tag = zlib.crc32(f"{self.event_shape}:{self.mean!r}:{self.std!r}".encode()) & 0x7FFFFFFF
        self._held_out_key = jax.random.fold_in(jax.random.key(_HELD_OUT_SEED), tag)

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        return self.mean + self.std * jax.random.normal(key, (num, *self.event_shape))

    def held_out(self, num: int) -> jax.Array:
        return self.sample(self._held_out_key, num)

    def fresh(self, key: jax.Array, num: int) -> jax.Array:
        return self.sample(key, num)
