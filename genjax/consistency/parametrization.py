"""The consistency function ``f(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in x, c_noise)``.

Song et al. (2023) shift EDM's skip and output scalings so that the boundary condition holds at
the smallest level ``sigma_min`` (epsilon):

    c_skip = sd^2 / ((sigma - sigma_min)^2 + sd^2),    c_out = sd (sigma - sigma_min) / sqrt(sigma^2 + sd^2),

with EDM's ``c_in = 1 / sqrt(sigma^2 + sd^2)`` and ``c_noise = log(sigma) / 4``
(``genjax.diffusion.EDMPreconditioning``). At ``sigma = sigma_min`` the difference is exactly
zero in floating point, so ``c_skip = 1``, ``c_out = 0`` and ``f(x, sigma_min) = x`` exactly for
any finite network. With ``sigma_min = 0`` the function *is* EDM's denoiser ``D``: a trained EDM
network is a consistency function with its boundary at 0 (the starting point of ECT).

Levels are the noise std in EDM's variance-exploding coordinates, ``x_sigma = x_0 + sigma z``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from genjax.diffusion import EDMPreconditioning


def bcast(v, x: jax.Array) -> jax.Array:
    """A scalar or ``[batch]`` level shaped to broadcast against ``x [batch, *event]``."""
    v = jnp.asarray(v)
    return v if v.ndim == 0 else jnp.reshape(v, v.shape + (1,) * (x.ndim - v.ndim))


@dataclasses.dataclass(frozen=True)
class ConsistencyPreconditioning:
    """The scalings of ``f``; ``sigma`` a scalar or ``[batch]`` (elementwise)."""

    sigma_data: float = 0.5
    sigma_min: float = 0.002

    @property
    def edm(self) -> EDMPreconditioning:
        return EDMPreconditioning(self.sigma_data)

    def c_skip(self, sigma):
        return self.sigma_data**2 / ((sigma - self.sigma_min) ** 2 + self.sigma_data**2)

    def c_out(self, sigma):
        return self.sigma_data * (sigma - self.sigma_min) / jnp.sqrt(sigma**2 + self.sigma_data**2)

    def c_in(self, sigma):
        return self.edm.c_in(sigma)

    def c_noise(self, sigma):
        return self.edm.c_noise(sigma)


def consistency_function(apply, precond: ConsistencyPreconditioning, params, x: jax.Array, sigma,
                         label=None) -> jax.Array:
    """``f(x, sigma)`` for ``x [batch, *event]``, ``sigma`` scalar or ``[batch]``.

    Args:
      apply: the network, ``apply(params, x_in [batch, *event], c_noise [batch], label) -> F``.
      precond: the scalings.
      params: the network's parameters.
    """
    sigma = jnp.broadcast_to(jnp.asarray(sigma, x.dtype), x.shape[:1])
    s = bcast(sigma, x)
    out = apply(params, precond.c_in(s) * x, precond.c_noise(sigma), label)
    return precond.c_skip(s) * x + precond.c_out(s) * out
