"""Probability paths ``x_t = alpha_t * x1 + sigma_t * x0`` between a source x0 and data x1.

Time runs from the source (t = 0) to the data (t = 1), the convention of Lipman et al. and
torchcfm. A path gives the conditional sample ``x_t`` and its velocity
``u_t = d alpha_t * x1 + d sigma_t * x0``, the regression target of conditional flow matching.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


def _bcast(t: jax.Array, x: jax.Array) -> jax.Array:
    """``t [batch]`` -> ``[batch, 1, ..., 1]`` to broadcast against ``x [batch, *event]``."""
    return jnp.reshape(t, t.shape + (1,) * (x.ndim - t.ndim))


class AffinePath:
    """Base class: subclasses define ``coefficients(t) -> (alpha, sigma, d_alpha, d_sigma)``."""

    def coefficients(self, t: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        raise NotImplementedError

    def sample(self, x0: jax.Array, x1: jax.Array, t: jax.Array) -> jax.Array:
        """``x_t`` for ``x0, x1 [batch, *event]`` and ``t [batch]``."""
        alpha, sigma, _, _ = self.coefficients(t)
        return _bcast(alpha, x1) * x1 + _bcast(sigma, x0) * x0

    def velocity(self, x0: jax.Array, x1: jax.Array, t: jax.Array) -> jax.Array:
        """Conditional target velocity ``d/dt x_t`` given the endpoints."""
        _, _, d_alpha, d_sigma = self.coefficients(t)
        return _bcast(d_alpha, x1) * x1 + _bcast(d_sigma, x0) * x0


@dataclasses.dataclass(frozen=True)
class LinearPath(AffinePath):
    """Conditional-OT / rectified-flow path: ``alpha_t = t``, ``sigma_t = 1 - (1 - sigma_min) t``.

    ``sigma_min = 0`` is the straight line of rectified flow and I-CFM without noise.
    """

    sigma_min: float = 0.0

    def coefficients(self, t):
        t = jnp.asarray(t)
        one = jnp.ones_like(t)
        return t, 1.0 - (1.0 - self.sigma_min) * t, one, -(1.0 - self.sigma_min) * one
