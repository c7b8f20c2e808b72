"""Base distributions over events of a fixed shape, and ``Flow`` = base + bijector.

Each distribution has ``sample(key, num) -> [num, *event_shape]`` and
``log_prob(x [batch, *event]) -> [batch]``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

LOG_2PI = math.log(2 * math.pi)


@dataclasses.dataclass(frozen=True)
class StandardNormal:
    """N(0, I) over ``event_shape``."""

    event_shape: tuple[int, ...]

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        return jax.random.normal(key, (num, *self.event_shape))

    def log_prob(self, x: jax.Array) -> jax.Array:
        d = math.prod(self.event_shape)
        sq = jnp.sum(jnp.reshape(x, (x.shape[0], -1)) ** 2, axis=-1)
        return -0.5 * (sq + d * LOG_2PI)


def diagonal_normal_log_prob(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """``log N(x; mean, diag(exp(2 log_std)))`` summed over all but the first axis: ``[batch]``."""
    z = (x - mean) * jnp.exp(-log_std)
    per = -0.5 * (z**2 + LOG_2PI) - log_std
    return jnp.sum(jnp.reshape(per, (x.shape[0], -1)), axis=-1)


@dataclasses.dataclass(frozen=True)
class DiagonalNormal:
    """N(mean, diag(exp(log_std))^2) with per-example (or shared) arrays ``mean``, ``log_std``.

    ``mean`` and ``log_std`` are ``[batch, *event]`` (or broadcastable to it); ``sample`` draws one
    value per row with the reparameterisation ``mean + exp(log_std) * eps``.
    """

    mean: jax.Array
    log_std: jax.Array

    def sample(self, key: jax.Array, num: int | None = None) -> jax.Array:
        shape = jnp.broadcast_shapes(jnp.shape(self.mean), jnp.shape(self.log_std))
        if num is not None:
            shape = (num, *shape[1:]) if len(shape) > 1 else (num, *shape)
        eps = jax.random.normal(key, shape)
        return self.mean + jnp.exp(self.log_std) * eps

    def log_prob(self, x: jax.Array) -> jax.Array:
        return diagonal_normal_log_prob(x, self.mean, self.log_std)


@dataclasses.dataclass(frozen=True)
class Flow:
    """A normalizing flow: ``x = bijector.forward(z)``, ``z ~ base``.

    ``log_prob`` is exact by the change of variables,
    ``log p(x) = log p_base(f^-1(x)) + log|det d f^-1 / dx|``, whenever the bijector's log-det is
    (residual blocks with a stochastic log-det estimator make it an estimate). Variables (params
    and constants) are an explicit argument: the object itself holds no state.

    Attributes:
      base: distribution with ``sample(key, num)`` and ``log_prob(z)`` over the base event shape.
      bijector: a ``genjax.bijectors.Bijector`` (``forward`` = base -> data).
    """

    base: Any
    bijector: Any

    def init(self, key: jax.Array, x: jax.Array, cond: jax.Array | None = None) -> Any:
        """Variables from a data batch ``x [batch, *event]``, initialised in the normalizing
        direction (data-dependent layers such as ActNorm take their statistics from ``x``)."""
        k_params, k_logdet = jax.random.split(key)
        return self.bijector.init({"params": k_params, "logdet": k_logdet}, x, cond, method="inverse_and_log_det")

    @staticmethod
    def _rngs(key):
        return None if key is None else {"logdet": key}

    def log_prob(self, variables, x: jax.Array, cond: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
        """``[batch]`` log-density of ``x [batch, *event]``; ``key`` feeds stochastic log-dets."""
        z, log_det = self.bijector.apply(variables, x, cond, method="inverse_and_log_det", rngs=self._rngs(key))
        return self.base.log_prob(z) + log_det

    def sample_and_log_prob(self, variables, key: jax.Array, num: int, cond: jax.Array | None = None,
                            *, temperature: float = 1.0) -> tuple[jax.Array, jax.Array]:
        """``num`` draws and their log-density (from the forward log-det: no inverse pass).

        ``temperature`` scales the base draws (``z * T``, Glow's reduced-temperature sampling);
        the returned log-density is then that of the tempered model's draws.
        """
        k_base, k_logdet = jax.random.split(key)
        z = self.base.sample(k_base, num)
        # The density of T * z is p_base(z) / T^d.
        log_base = self.base.log_prob(z) - math.prod(z.shape[1:]) * math.log(temperature)
        z = z * temperature
        x, log_det = self.bijector.apply(variables, z, cond, method="forward_and_log_det", rngs={"logdet": k_logdet})
        return x, log_base - log_det

    def sample(self, variables, key: jax.Array, num: int, cond: jax.Array | None = None, *,
               temperature: float = 1.0) -> jax.Array:
        """``num`` draws ``[num, *event]``."""
        k_base, k_logdet = jax.random.split(key)
        z = self.base.sample(k_base, num) * temperature
        return self.bijector.apply(variables, z, cond, method="forward", rngs={"logdet": k_logdet})
