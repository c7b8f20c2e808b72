"""Closed-form diffusions of Gaussian and Gaussian-mixture data: exact marginals and scores.

For data ``N(mu, Sigma)`` and a linear process with ``x_t | x_0 ~ N(m x_0, s^2 I)`` the marginal
is ``N(m mu, m^2 Sigma + s^2 I)``, whose score ``-(m^2 Sigma + s^2 I)^{-1} (x - m mu)`` is what a
perfectly trained score model would output; a mixture's marginal is the mixture of its
components' marginals. These give exact references for samplers, likelihoods and guidance,
and the ``eps_fn`` / ``score_fn`` callables the samplers take. Vector data ``[batch, D]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from genjax.diffusion.sde import SDE, bcast


def _mvn_logp(x, mean, cov):
    d = mean.shape[-1]
    chol = jnp.linalg.cholesky(cov)
    z = jax.scipy.linalg.solve_triangular(chol, (x - mean).T, lower=True).T
    return -0.5 * jnp.sum(z**2, -1) - jnp.sum(jnp.log(jnp.diag(chol))) - 0.5 * d * jnp.log(2 * jnp.pi)


@dataclasses.dataclass(frozen=True)
class GaussianData:
    """``N(mean, cov)`` data: ``mean [D]``, ``cov [D, D]``."""

    mean: jax.Array
    cov: jax.Array

    def marginal(self, sde: SDE, t) -> tuple[jax.Array, jax.Array]:
        """Mean ``[D]`` and covariance ``[D, D]`` of ``p_t`` (``t`` a scalar)."""
        m, s = sde.marginal(t)
        eye = jnp.eye(self.mean.shape[0], dtype=self.cov.dtype)
        return m * self.mean, m**2 * self.cov + s**2 * eye

    def log_prob(self, x: jax.Array, sde: SDE | None = None, t=None) -> jax.Array:
        """``log p_t(x)`` for ``x [batch, D]`` (``p_0`` = the data when ``sde`` is None); ``t`` a
        scalar or ``[batch]`` (a sampler's per-example times, each example against its own marginal)."""
        if sde is None:
            return _mvn_logp(x, self.mean, self.cov)
        # In the eigenbasis of Sigma the marginal's covariance is diag(m^2 lam + s^2): one
        # eigendecomposition serves every time (as in _precision_times).
        lam, u = jnp.linalg.eigh(self.cov)
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        m, s = sde.marginal(t)
        var = m[:, None] ** 2 * lam + s[:, None] ** 2
        coords = (x - m[:, None] * self.mean) @ u
        return -0.5 * jnp.sum(coords**2 / var + jnp.log(2 * jnp.pi * var), -1)

    def _precision_times(self, x: jax.Array, sde: SDE, t, scale_by_s: bool) -> jax.Array:
        """``c (m^2 Sigma + s^2 I)^{-1} (x - m mu)`` with ``c = s`` or 1, per example.

        With ``Sigma = U diag(lam) U^T`` the inverse is ``U diag(1 / (m^2 lam + s^2)) U^T``, so
        any number of times costs one eigendecomposition.
        """
        lam, u = jnp.linalg.eigh(self.cov)
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        m, s = sde.marginal(t)
        coords = (x - m[:, None] * self.mean) @ u
        coords = coords / (m[:, None] ** 2 * lam + s[:, None] ** 2)
        if scale_by_s:
            coords = s[:, None] * coords
        return coords @ u.T

    def score(self, x: jax.Array, sde: SDE, t) -> jax.Array:
        """``grad log p_t(x)`` for ``x [batch, D]``; ``t`` a scalar or ``[batch]``."""
        return -self._precision_times(x, sde, t, False)

    def eps(self, x: jax.Array, sde: SDE, t) -> jax.Array:
        """The ideal noise prediction ``-s(t) * score``, finite at ``s = 0`` (it is 0 there)."""
        return self._precision_times(x, sde, t, True)

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        chol = jnp.linalg.cholesky(self.cov)
        return self.mean + jax.random.normal(key, (num, self.mean.shape[0]), self.cov.dtype) @ chol.T


@dataclasses.dataclass(frozen=True)
class GaussianMixture:
    """``sum_k w_k N(means[k], covs[k])``: ``weights [K]``, ``means [K, D]``, ``covs [K, D, D]``."""

    weights: jax.Array
    means: jax.Array
    covs: jax.Array

    def component(self, k: int) -> GaussianData:
        return GaussianData(self.means[k], self.covs[k])

    def component_log_probs(self, x: jax.Array, sde: SDE | None = None, t=None) -> jax.Array:
        """``[batch, K]``: ``log w_k + log p_t(x | k)``."""
        comps = [self.component(k).log_prob(x, sde, t) for k in range(self.weights.shape[0])]
        return jnp.log(self.weights) + jnp.stack(comps, -1)

    def log_prob(self, x: jax.Array, sde: SDE | None = None, t=None) -> jax.Array:
        return logsumexp(self.component_log_probs(x, sde, t), axis=-1)

    def class_log_posterior(self, x: jax.Array, sde: SDE | None = None, t=None) -> jax.Array:
        """``log p_t(k | x)`` ``[batch, K]``: the exact noisy classifier."""
        lp = self.component_log_probs(x, sde, t)
        return lp - logsumexp(lp, axis=-1, keepdims=True)

    def score(self, x: jax.Array, sde: SDE, t, label: jax.Array | None = None) -> jax.Array:
        """``grad log p_t(x)``, or ``grad log p_t(x | label)`` for a label ``[batch]``; ``t`` a scalar
        or ``[batch]``."""
        if label is None:
            return jax.grad(lambda y: jnp.sum(self.log_prob(y, sde, t)))(x)
        def cond(y):
            lp = self.component_log_probs(y, sde, t) - jnp.log(self.weights)
            return jnp.sum(jnp.take_along_axis(lp, label[:, None], axis=-1))
        return jax.grad(cond)(x)

    def eps(self, x: jax.Array, sde: SDE, t, label: jax.Array | None = None) -> jax.Array:
        _, s = sde.marginal(t)
        return -bcast(s, x) * self.score(x, sde, t, label)

    def sample(self, key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
        """``(x [num, D], component [num])``."""
        k_c, k_x = jax.random.split(key)
        comp = jax.random.categorical(k_c, jnp.log(self.weights), shape=(num,))
        chol = jnp.linalg.cholesky(self.covs)[comp]
        z = jax.random.normal(k_x, (num, self.means.shape[1]), self.covs.dtype)
        return self.means[comp] + jnp.einsum("nij,nj->ni", chol, z), comp


class OracleEps(nn.Module):
    """A parameter-free network returning the exact noise prediction of ``data`` under ``sde``.

    Plugged into a ``Diffusion`` model in place of a trained network (``params = {}``), it makes
    every sampler and likelihood of the model an exact reference. A ``GaussianMixture`` with a
    label gives the class-conditional prediction.
    """

    data: Any
    sde: Any

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None) -> jax.Array:
        if label is None or isinstance(self.data, GaussianData):
            return self.data.eps(x, self.sde, t)
        return self.data.eps(x, self.sde, t, label)
