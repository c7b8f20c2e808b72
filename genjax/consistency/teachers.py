"""Teachers of consistency distillation: any trained genjax model whose ODE is a probability flow.

A teacher is read in EDM's variance-exploding coordinates, where its probability-flow ODE is
``dx/dsigma = eps_hat(x, sigma) = (x - D(x, sigma)) / sigma``: ``denoise(params, x, sigma)``
returns ``Denoised(x0 = D, eps)`` for ``x [batch, *event]`` and levels ``sigma [batch]``.

- ``GaussianTeacher``: the exact denoiser of ``N(mean, cov)`` data (tests, and a teacher needing
  no trained run).
- ``DiffusionTeacher``: a ``genjax.diffusion.Diffusion`` model on a variance-exploding process
  (``EDMProcess``: the ``edm`` model, or ``VESDE``), evaluated at ``t = time_of_sigma(sigma)``.
- ``FlowTeacher``: a flow-matching velocity on the straight path ``x_t = (1 - t) x_0 + t x_1``
  (source ``x_0 ~ N(0, I)`` at t = 0, data at t = 1). With ``x_t = t x~`` and ``sigma = (1 - t) / t``
  its ODE becomes the VE probability flow, with ``D = x_1_hat = x_t + (1 - t) v`` and
  ``eps = x_0_hat = x_t - t v``, both read directly from the velocity.

``transform`` is the data -> model-space map the teacher was trained in (the student uses the same).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from genjax.consistency.parametrization import bcast
from genjax.diffusion import Affine, Denoised, Diffusion, EDMProcess
from genjax.flow_matching import FlowMatching, LinearPath


@dataclasses.dataclass(frozen=True)
class GaussianTeacher:
    """The exact denoiser of ``N(mean [D], cov [D, D])``: ``D = mean + U diag(lam / (lam + sigma^2)) U^T (x - mean)``."""

    mean: Any
    cov: Any
    transform: Affine = Affine()

    def denoise(self, params, x: jax.Array, sigma) -> Denoised:
        del params
        mean, cov = jnp.asarray(self.mean, x.dtype), jnp.asarray(self.cov, x.dtype)
        lam, u = jnp.linalg.eigh(cov)
        sigma = jnp.broadcast_to(jnp.asarray(sigma, x.dtype), x.shape[:1])[:, None]
        coords = (x - mean) @ u
        x0 = mean + (coords * lam / (lam + sigma**2)) @ u.T
        eps = (coords * sigma / (lam + sigma**2)) @ u.T
        return Denoised(x0, eps)

    @classmethod
    def fit(cls, x, transform: Affine = Affine()) -> GaussianTeacher:
        """The Gaussian with the mean and covariance of ``x [n, D]`` (model space)."""
        x = jnp.reshape(jnp.asarray(x, jnp.float32), (x.shape[0], -1))
        return cls(jnp.mean(x, 0), jnp.cov(x.T).reshape(x.shape[1], x.shape[1]), transform)


@dataclasses.dataclass(frozen=True)
class DiffusionTeacher:
    """A diffusion model on a variance-exploding process (``m = 1``, ``s = sigma(t)``)."""

    model: Diffusion

    def __post_init__(self):
        if not callable(getattr(self.model.sde, "time_of_sigma", None)):
            raise ValueError(f"a diffusion teacher needs a variance-exploding process (the edm model, or score_sde "
                             f"with sde 've'); this one has {type(self.model.sde).__name__}")

    @property
    def transform(self) -> Affine:
        return self.model.transform

    def sigma_range(self) -> tuple[float, float]:
        """The levels the teacher was trained on (its times' range, as noise levels)."""
        if isinstance(self.model.sde, EDMProcess):  # time is the level: keep the config's values exactly
            return float(self.model.times.t_min), float(self.model.times.t_max)
        with jax.ensure_compile_time_eval():
            lo = float(self.model.sde.marginal(self.model.times.t_min)[1])
            hi = float(self.model.sde.marginal(self.model.times.t_max)[1])
        return lo, hi

    def denoise(self, params, x: jax.Array, sigma) -> Denoised:
        return self.model.denoise(params, x, self.model.sde.time_of_sigma(sigma))


@dataclasses.dataclass(frozen=True)
class FlowTeacher:
    """A flow-matching model on the straight path from N(0, I) (``sigma = 0``), unconditional."""

    model: FlowMatching

    def __post_init__(self):
        path = self.model.path
        if not (isinstance(path, LinearPath) and path.sigma_min == 0.0 and self.model.sigma == 0.0):
            raise ValueError("a flow-matching teacher needs the straight path (model.path 'linear' with sigma_min 0 "
                             f"and model.sigma 0: its velocity then determines the denoiser); got {path}, "
                             f"sigma {self.model.sigma}")
        if self.model.log_prob_kind is None:
            raise ValueError("a flow-matching teacher needs the N(0, I) source (model.source 'gaussian')")

    @property
    def transform(self) -> Affine:
        return Affine()

    def denoise(self, params, x: jax.Array, sigma) -> Denoised:
        sigma = jnp.broadcast_to(jnp.asarray(sigma, x.dtype), x.shape[:1])
        t = 1.0 / (1.0 + sigma)
        xt = bcast(t, x) * x
        v = self.model.velocity(params, xt, t)
        return Denoised(xt + bcast(1.0 - t, x) * v, xt - bcast(t, x) * v)

    @staticmethod
    def fm_time(sigma):
        """The flow-matching time of the level ``sigma``: ``t = 1 / (1 + sigma)``."""
        return 1.0 / (1.0 + sigma)
