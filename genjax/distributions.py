"""Base distributions over events of a fixed shape.

Each has ``sample(key, num) -> [num, *event_shape]`` and ``log_prob(x [batch, *event]) -> [batch]``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class StandardNormal:
    """N(0, I) over ``event_shape``."""

    event_shape: tuple[int, ...]

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        return jax.random.normal(key, (num, *self.event_shape))

    def log_prob(self, x: jax.Array) -> jax.Array:
        d = math.prod(self.event_shape)
        sq = jnp.sum(jnp.reshape(x, (x.shape[0], -1)) ** 2, axis=-1)
        return -0.5 * (sq + d * math.log(2 * math.pi))
