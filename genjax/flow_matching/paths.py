"""Probability paths ``x_t = alpha_t * x1 + sigma_t * x0`` between a source x0 and data x1.

Time runs from the source (t = 0) to the data (t = 1), the convention of Lipman et al. and
torchcfm. A path gives the conditional sample ``x_t`` and its velocity
``u_t = d alpha_t * x1 + d sigma_t * x0``, the regression target of conditional flow matching.

Given ``x_t``, any one of the velocity, the source point x0 ("noise prediction" when the source
is N(0, I)) and the data point x1 ("data prediction") determines the other two, because
``(x_t, u_t)`` is an invertible linear function of ``(x0, x1)`` whenever
``alpha_t * d sigma_t - sigma_t * d alpha_t != 0`` (true for every path here on [0, 1]). The
conversions below are that inverse; the ones that divide by ``alpha_t`` are undefined at the
source end (t = 0) and those that divide by ``sigma_t`` at the data end of a path with
``sigma_1 = 0`` (t = 1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp


def _bcast(t: jax.Array, x: jax.Array) -> jax.Array:
    """``t [batch]`` -> ``[batch, 1, ..., 1]`` to broadcast against ``x [batch, *event]``."""
    t = jnp.asarray(t)
    return jnp.reshape(t, t.shape + (1,) * (x.ndim - t.ndim))


class AffinePath:
    """Base class: subclasses define ``coefficients(t) -> (alpha, sigma, d_alpha, d_sigma)``.

    All methods take ``x0, x1, x_t`` of shape ``[batch, *event]`` and ``t`` of shape ``[batch]``
    (or a scalar).
    """

    def coefficients(self, t: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        raise NotImplementedError

    def _coef(self, t, x):
        return tuple(_bcast(c, x) for c in self.coefficients(jnp.asarray(t, x.dtype)))

    def sample(self, x0: jax.Array, x1: jax.Array, t: jax.Array) -> jax.Array:
        """``x_t`` for ``x0, x1 [batch, *event]`` and ``t [batch]``."""
        alpha, sigma, _, _ = self._coef(t, x1)
        return alpha * x1 + sigma * x0

    def velocity(self, x0: jax.Array, x1: jax.Array, t: jax.Array) -> jax.Array:
        """Conditional target velocity ``d/dt x_t`` given the endpoints."""
        _, _, d_alpha, d_sigma = self._coef(t, x1)
        return d_alpha * x1 + d_sigma * x0

    # -- conversions between velocity, source (noise) and data predictions at x_t -------------

    def x1_from_x0(self, xt: jax.Array, x0: jax.Array, t: jax.Array) -> jax.Array:
        """Data prediction from a source prediction: ``(x_t - sigma x0) / alpha`` (not at t=0)."""
        alpha, sigma, _, _ = self._coef(t, xt)
        return (xt - sigma * x0) / alpha

    def x0_from_x1(self, xt: jax.Array, x1: jax.Array, t: jax.Array) -> jax.Array:
        """Source prediction from a data prediction: ``(x_t - alpha x1) / sigma``."""
        alpha, sigma, _, _ = self._coef(t, xt)
        return (xt - alpha * x1) / sigma

    def velocity_from_x0(self, xt: jax.Array, x0: jax.Array, t: jax.Array) -> jax.Array:
        alpha, sigma, d_alpha, d_sigma = self._coef(t, xt)
        return d_alpha * (xt - sigma * x0) / alpha + d_sigma * x0

    def velocity_from_x1(self, xt: jax.Array, x1: jax.Array, t: jax.Array) -> jax.Array:
        alpha, sigma, d_alpha, d_sigma = self._coef(t, xt)
        return d_alpha * x1 + d_sigma * (xt - alpha * x1) / sigma

    def x0_from_velocity(self, xt: jax.Array, v: jax.Array, t: jax.Array) -> jax.Array:
        """Solves ``x_t = alpha x1 + sigma x0, v = d_alpha x1 + d_sigma x0`` for x0."""
        alpha, sigma, d_alpha, d_sigma = self._coef(t, xt)
        return (alpha * v - d_alpha * xt) / (alpha * d_sigma - sigma * d_alpha)

    def x1_from_velocity(self, xt: jax.Array, v: jax.Array, t: jax.Array) -> jax.Array:
        """Solves ``x_t = alpha x1 + sigma x0, v = d_alpha x1 + d_sigma x0`` for x1."""
        alpha, sigma, d_alpha, d_sigma = self._coef(t, xt)
        return (d_sigma * xt - sigma * v) / (alpha * d_sigma - sigma * d_alpha)

    def score_from_x0(self, xt: jax.Array, x0: jax.Array, t: jax.Array) -> jax.Array:
        """``grad log p_t(x_t)`` from the posterior-mean source prediction, for an N(0, I) source.

        Given x1, ``x_t ~ N(alpha x1, sigma^2 I)``, whose score is ``-x0 / sigma``; averaging over
        the posterior of x1 turns x0 into its posterior mean (Tweedie). Not defined at
        ``sigma_t = 0``.
        """
        _, sigma, _, _ = self._coef(t, xt)
        return -x0 / sigma


@dataclasses.dataclass(frozen=True)
class LinearPath(AffinePath):
    """Conditional-OT / rectified-flow path: ``alpha_t = t``, ``sigma_t = 1 - (1 - sigma_min) t``.

    ``sigma_min = 0`` is the straight line of rectified flow and I-CFM; ``sigma_min > 0`` is the
    conditional-OT path of Lipman et al. (2023), which ends in ``N(x1, sigma_min^2 I)``.
    """

    sigma_min: float = 0.0

    def coefficients(self, t):
        t = jnp.asarray(t)
        one = jnp.ones_like(t)
        return t, 1.0 - (1.0 - self.sigma_min) * t, one, -(1.0 - self.sigma_min) * one


@dataclasses.dataclass(frozen=True)
class VPCosinePath(AffinePath):
    """Variance-preserving cosine path: ``alpha_t = sin(pi t / 2)``, ``sigma_t = cos(pi t / 2)``.

    ``alpha_t^2 + sigma_t^2 = 1``, so an N(0, I) source and unit-variance data keep unit variance
    along the path (the trigonometric interpolant of Albergo & Vanden-Eijnden; torchcfm's
    ``VariancePreservingConditionalFlowMatcher``).
    """

    def coefficients(self, t):
        t = jnp.asarray(t)
        h = 0.5 * math.pi
        return jnp.sin(h * t), jnp.cos(h * t), h * jnp.cos(h * t), -h * jnp.sin(h * t)


@dataclasses.dataclass(frozen=True)
class GeneralAffinePath(AffinePath):
    """Any path ``alpha(t) x1 + sigma(t) x0`` from two scalar schedules (derivatives by ``jax.jvp``).

    Args:
      alpha: elementwise ``t -> alpha_t``, with ``alpha(0) = 0`` and ``alpha(1) = 1`` for a path
        from the source to the data.
      sigma: elementwise ``t -> sigma_t``, with ``sigma(0) = 1``.
    """

    alpha: Callable[[jax.Array], jax.Array]
    sigma: Callable[[jax.Array], jax.Array]

    def coefficients(self, t):
        t = jnp.asarray(t)
        ones = jnp.ones_like(t)
        alpha, d_alpha = jax.jvp(self.alpha, (t,), (ones,))
        sigma, d_sigma = jax.jvp(self.sigma, (t,), (ones,))
        return alpha, sigma, d_alpha, d_sigma


PATHS = ("linear", "vp_cosine")
