"""Continuously-indexed flows (CIF, Cornish et al. 2020).

A bijection indexed by a continuous variable ``u``: ``x = G(z; u)`` with ``z ~ p_Z = N(0, I)``
and ``u ~ p(u | z)``. Writing ``F(x; u) = G^{-1}(x; u)``, the joint density is

    p(x, u) = p_Z(F(x; u)) |det D_x F(x; u)| p(u | F(x; u)).

The marginal ``p(x)`` is an integral over ``u``, so training maximises the ELBO with a learned
posterior ``q(u | x)``:

    log p(x) >= E_q[ log p(x, u) - log q(u | x) ]                     (the bound; K = 1)
    log p(x) >= E[ log (1/K) sum_k p(x, u_k) / q(u_k | x) ],  u_k ~ q  (importance weighted)

The importance-weighted bound tightens monotonically in expectation as K grows and tends to
``log p(x)``. Because ``u`` can move mass between disconnected regions without stretching a
single bijection across the gap, a CIF need not put density between the components of data
whose support is disconnected, which every plain flow (a homeomorphism of R^d) must.

``p(u | z)`` and ``q(u | x)`` are diagonal Gaussians whose means and log-scales are MLPs
(zero-initialised: both start at N(0, I)). ``F`` is any conditional bijector (``cond = u``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.bijectors.base import Bijector
from genjax.bijectors.model import FLOW_SAMPLERS
from genjax.bijectors.transforms import soft_clamp
from genjax.distributions import StandardNormal, diagonal_normal_log_prob
from genjax.model import ModelBase
from genjax.nn import MLP


class GaussianMLP(nn.Module):
    """``h [batch, ...] -> (mean, log_std) [batch, dim]`` of a diagonal Gaussian (zero-initialised)."""

    dim: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "relu"
    max_log_std: float = 5.0

    @nn.compact
    def __call__(self, h):
        out = MLP(self.hidden, 2 * self.dim, activation=self.activation, zero_init_last=True)(
            jnp.reshape(h, (h.shape[0], -1))
        )
        return out[:, : self.dim], soft_clamp(out[:, self.dim :], self.max_log_std)


class CIF(ModelBase):
    """A continuously-indexed flow as a genjax Model.

    ``loss`` is the negative ELBO (one ``u`` per example); ``log_prob`` is the importance-weighted
    estimate with ``eval_samples`` draws of ``u`` — a stochastic **lower bound** on ``log p(x)``
    (in expectation), not an exact density. ``sample`` draws ``z``, then ``u ~ p(u | z)``, then
    ``x = G(z; u)``.

    Args:
      bijector: conditional bijector, ``forward(z, cond=u) = G(z; u)``.
      base_shape: shape of ``z`` (the bijector's base side).
      u_dim: dimension of the index ``u``.
      posterior_hidden, prior_hidden: hidden widths of the MLPs of ``q(u | x)`` and ``p(u | z)``.
      eval_samples: ``K`` of ``log_prob``.
    """

    samplers = FLOW_SAMPLERS
    log_prob_kind = "bound"

    def __init__(self, bijector: Bijector, base_shape: tuple[int, ...], *, u_dim: int = 1,
                 posterior_hidden: Sequence[int] = (64, 64), prior_hidden: Sequence[int] = (64, 64),
                 activation: str = "relu", eval_samples: int = 100):
        self.bijector = bijector
        self.u_dim = u_dim
        self.base = StandardNormal(tuple(base_shape))
        self.posterior = GaussianMLP(u_dim, tuple(posterior_hidden), activation)
        self.prior = GaussianMLP(u_dim, tuple(prior_hidden), activation)
        self.eval_samples = eval_samples

    def init(self, key: jax.Array, batch: dict):
        x = batch["x"]
        k_q, k_f, k_p = jax.random.split(key, 3)
        posterior = self.posterior.init(k_q, x)
        u, _ = self.posterior.apply(posterior, x)
        bijector = self.bijector.init(k_f, x, u)  # normalizing direction, on data (ActNorm)
        z, _ = self.bijector.apply(bijector, x, u, method="inverse_and_log_det")
        return {"posterior": posterior, "bijector": bijector, "prior": self.prior.init(k_p, z)}

    def log_weights(self, params, x: jax.Array, key: jax.Array) -> jax.Array:
        """``log p(x, u) - log q(u | x)`` with one ``u ~ q(u | x)`` per row: ``[batch]``."""
        mean, log_std = self.posterior.apply(params["posterior"], x)
        u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
        log_q = diagonal_normal_log_prob(u, mean, log_std)
        z, log_det = self.bijector.apply(params["bijector"], x, u, method="inverse_and_log_det")
        p_mean, p_log_std = self.prior.apply(params["prior"], z)
        return self.base.log_prob(z) + log_det + diagonal_normal_log_prob(u, p_mean, p_log_std) - log_q

    def elbo(self, params, x: jax.Array, key: jax.Array) -> jax.Array:
        """A one-sample estimate of the ELBO of each row: ``[batch]``."""
        return self.log_weights(params, x, key)

    def loss(self, params, batch: dict, key: jax.Array):
        elbo = jnp.mean(self.elbo(params, batch["x"], key))
        return -elbo, {"elbo": elbo}

    def importance_weighted(self, params, x: jax.Array, key: jax.Array, num_samples: int) -> jax.Array:
        """``log (1/K) sum_k w_k`` with ``K = num_samples`` draws of ``u`` per row: ``[batch]``."""
        b = x.shape[0]
        tiled = jnp.broadcast_to(x[None], (num_samples, *x.shape)).reshape((num_samples * b, *x.shape[1:]))
        log_w = self.log_weights(params, tiled, key).reshape(num_samples, b)
        return jax.nn.logsumexp(log_w, axis=0) - math.log(num_samples)

    def log_prob(self, params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """Importance-weighted lower bound on ``log p(x)`` (``eval_samples`` draws; key 0 if None)."""
        key = jax.random.key(0) if key is None else key
        return self.importance_weighted(params, x, key, self.eval_samples)

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None):
        """``(x [num, *event], {})``: ``z`` (at the spec's temperature), ``u ~ p(u | z)``, ``x = G(z; u)``."""
        temperature = self.parse_sampler(sampler).get("temperature", 1.0)
        k_z, k_u = jax.random.split(key)
        z = temperature * self.base.sample(k_z, num)
        mean, log_std = self.prior.apply(params["prior"], z)
        u = mean + jnp.exp(log_std) * jax.random.normal(k_u, mean.shape, mean.dtype)
        return self.bijector.apply(params["bijector"], z, u, method="forward"), {}
