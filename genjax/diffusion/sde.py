"""Forward noising SDEs ``dx = f(x, t) dt + g(t) dW`` on ``t in [0, 1]`` and their reversals.

All three processes of Song et al. (2021) are linear, so given the data point ``x_0`` the state
``x_t`` is Gaussian, ``N(m(t) x_0, s(t)^2 I)``: ``marginal(t)`` returns ``(m(t), s(t))``. They
satisfy the moment equations ``m' = f_coef m`` and ``(s^2)' = 2 f_coef s^2 + g^2`` where the drift
is ``f_coef(t) * x`` (checked in the tests).

- ``VPSDE``: ``f = -beta(t)/2 x``, ``g = sqrt(beta(t))``; ``m = sqrt(alpha_bar)``,
  ``s^2 = 1 - alpha_bar``. Any ``Schedule`` defines one; DDPM is its discretisation.
- ``SubVPSDE``: same drift, ``g^2 = beta(t) (1 - alpha_bar(t)^2)``; ``s = 1 - alpha_bar``.
- ``VESDE``: ``f = 0``, ``g = sigma(t) sqrt(2 log(sigma_max / sigma_min))`` with
  ``sigma(t) = sigma_min (sigma_max / sigma_min)^t``; ``m = 1``, ``s = sigma(t)``. The process
  starts from the data at ``t = -inf`` (where ``sigma(t) -> 0``), so ``s(t) = sigma(t)`` is its
  exact marginal on ``[0, 1]`` (NCSN's geometric noise levels are this process on a grid).

The interface (score_sde's ``sde_lib``): ``drift``, ``diffusion``, ``marginal``,
``prior_sample``, ``prior_logp``, ``discretize`` and ``reverse(score_fn, probability_flow)``.
Shapes: ``x [batch, *event]``; ``t`` a scalar or ``[batch]``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from genjax.diffusion.schedules import LinearBeta, Schedule

ScoreFn = Callable[[jax.Array, jax.Array], jax.Array]  # (x [batch, *event], t) -> score, like x


def bcast(t: jax.Array, x: jax.Array) -> jax.Array:
    """A scalar or ``[batch]`` time-like value, shaped to broadcast against ``x [batch, *event]``."""
    t = jnp.asarray(t)
    if t.ndim == 0:
        return t
    return jnp.reshape(t, t.shape + (1,) * (x.ndim - t.ndim))


def _sum_event(v: jax.Array) -> jax.Array:
    return jnp.sum(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


def gaussian_logp(z: jax.Array, std) -> jax.Array:
    """``log N(z; 0, std^2 I)`` per example: ``z [batch, *event] -> [batch]``."""
    d = math.prod(z.shape[1:])
    return -0.5 * _sum_event(z**2) / std**2 - d * (math.log(std) + 0.5 * math.log(2 * math.pi))


class SDE:
    """Base class: subclasses define ``drift_coef``, ``diffusion``, ``marginal``, ``prior_std``."""

    T: float = 1.0
    prior_std: float = 1.0

    def drift_coef(self, t: jax.Array) -> jax.Array:
        """The linear drift's coefficient: ``f(x, t) = drift_coef(t) * x``."""
        raise NotImplementedError

    def drift(self, x: jax.Array, t: jax.Array) -> jax.Array:
        return bcast(self.drift_coef(t), x) * x

    def diffusion(self, t: jax.Array) -> jax.Array:
        """``g(t)``, same shape as ``t``."""
        raise NotImplementedError

    def marginal(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(m(t), s(t))``: ``x_t | x_0 ~ N(m(t) x_0, s(t)^2 I)``."""
        raise NotImplementedError

    def transition(self, s: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(m_ts, v_ts)``: ``x_t | x_s ~ N(m_ts x_s, v_ts I)`` for ``s <= t``.

        The noise added on ``(s, t]`` is independent of ``x_s``, so ``m_ts = m_t / m_s`` and
        ``v_ts = s_t^2 - m_ts^2 s_s^2``; VP and VE override the variance with a form that does
        not cancel catastrophically for close ``s, t``.
        """
        m_s, s_s = self.marginal(s)
        m_t, s_t = self.marginal(t)
        m_ts = m_t / m_s
        return m_ts, s_t**2 - m_ts**2 * s_s**2

    def perturb(self, x0: jax.Array, t: jax.Array, noise: jax.Array) -> jax.Array:
        """``m(t) x0 + s(t) noise``."""
        m, s = self.marginal(t)
        return bcast(m, x0) * x0 + bcast(s, x0) * noise

    def prior_sample(self, key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
        """Draws from ``N(0, prior_std^2 I)``, the reference distribution at ``t = T``."""
        return self.prior_std * jax.random.normal(key, shape)

    def prior_logp(self, z: jax.Array) -> jax.Array:
        """``log N(z; 0, prior_std^2 I)``: ``z [batch, *event] -> [batch]``."""
        return gaussian_logp(z, self.prior_std)

    def discretize(self, x: jax.Array, t: jax.Array, dt) -> tuple[jax.Array, jax.Array]:
        """The step ``x_t = x_{t-dt} + f + G z`` of the forward process into ``t``: returns ``(f, G)``.

        Euler-Maruyama here; VP and VE override it with the exact DDPM / SMLD transitions.
        ``dt`` may be traced (samplers on non-uniform grids).
        """
        return self.drift(x, t) * dt, self.diffusion(t) * jnp.sqrt(dt)

    def corrector_alpha(self, t: jax.Array, dt: float) -> jax.Array:
        """The ``alpha`` of score_sde's Langevin corrector step ``2 alpha (snr |z| / |score|)^2``: 1 here."""
        return jnp.ones_like(jnp.asarray(t, jnp.result_type(float)))

    def reverse(self, score_fn: ScoreFn, probability_flow: bool = False) -> ReverseSDE:
        """The time reversal driven by ``score_fn``, or its probability-flow ODE."""
        return ReverseSDE(self, score_fn, probability_flow)


@dataclasses.dataclass(frozen=True)
class ReverseSDE:
    """``dx = [f - c g^2 score] dt + (1 - pf) g dW-bar``, run from ``t = T`` down to 0.

    ``c = 1`` for the reverse SDE (Anderson 1982), ``c = 1/2`` and no noise for the
    probability-flow ODE, whose marginals equal the forward process's.
    """

    sde: SDE
    score_fn: ScoreFn
    probability_flow: bool = False

    @property
    def _c(self) -> float:
        return 0.5 if self.probability_flow else 1.0

    def drift(self, x: jax.Array, t: jax.Array) -> jax.Array:
        g = bcast(self.sde.diffusion(t), x)
        return self.sde.drift(x, t) - self._c * g**2 * self.score_fn(x, t)

    def diffusion(self, t: jax.Array) -> jax.Array:
        g = self.sde.diffusion(t)
        return jnp.zeros_like(g) if self.probability_flow else g

    def discretize(self, x: jax.Array, t: jax.Array, dt: float) -> tuple[jax.Array, jax.Array]:
        """Reverse step from ``t`` to ``t - dt``: ``x_{t-dt} = x - f_rev + G_rev z``; returns ``(f_rev, G_rev)``."""
        f, G = self.sde.discretize(x, t, dt)
        f_rev = f - self._c * bcast(G, x) ** 2 * self.score_fn(x, t)
        return f_rev, (jnp.zeros_like(G) if self.probability_flow else G)


@dataclasses.dataclass(frozen=True)
class VPSDE(SDE):
    """Variance-preserving SDE of a VP ``Schedule`` (linear betas 0.1 .. 20 by default)."""

    schedule: Schedule = LinearBeta()

    def drift_coef(self, t):
        return -0.5 * self.schedule.beta(t)

    def diffusion(self, t):
        return jnp.sqrt(self.schedule.beta(t))

    def marginal(self, t):
        return self.schedule.alpha(t), self.schedule.sigma(t)

    def transition(self, s, t):
        log_ratio = self.schedule.log_alpha_bar(t) - self.schedule.log_alpha_bar(s)
        return jnp.exp(0.5 * log_ratio), -jnp.expm1(log_ratio)

    def discretize(self, x, t, dt):
        # DDPM's transition x_t = sqrt(1 - beta_i) x_{t-dt} + sqrt(beta_i) z with
        # 1 - beta_i = alpha_bar(t) / alpha_bar(t - dt), written as a step of size dt at t.
        m, v = self.transition(jnp.maximum(t - dt, 0.0), t)
        return bcast(m - 1.0, x) * x, jnp.sqrt(v)

    def corrector_alpha(self, t, dt):
        # 1 - beta_i of the step ending at t, as score_sde's corrector uses for VP.
        return self.transition(jnp.maximum(t - dt, 0.0), t)[0] ** 2


@dataclasses.dataclass(frozen=True)
class SubVPSDE(SDE):
    """Sub-VP SDE (Song et al. 2021): VP's drift with ``g^2 = beta (1 - alpha_bar^2)``; ``s = 1 - alpha_bar``."""

    schedule: Schedule = LinearBeta()

    def drift_coef(self, t):
        return -0.5 * self.schedule.beta(t)

    def diffusion(self, t):
        ab = self.schedule.alpha_bar(t)
        return jnp.sqrt(self.schedule.beta(t) * (1.0 - ab**2))

    def marginal(self, t):
        return self.schedule.alpha(t), self.schedule.sigma2(t)


class VarianceExploding(SDE):
    """Base of processes ``x_t = x_0 + sigma(t) z`` (no drift): subclasses define ``sigma(t)``,
    ``diffusion(t) = sqrt(d sigma^2 / dt)`` and ``time_of_sigma``; the prior is
    ``N(0, sigma(T)^2 I)`` (``prior_std``)."""

    def sigma(self, t):
        raise NotImplementedError

    def time_of_sigma(self, sigma):
        raise NotImplementedError

    def drift_coef(self, t):
        return jnp.zeros_like(jnp.asarray(t, jnp.result_type(float)))

    def marginal(self, t):
        s = self.sigma(t)
        return jnp.ones_like(s), s

    def transition(self, s, t):
        return jnp.ones_like(self.sigma(t)), self.sigma(t) ** 2 - self.sigma(s) ** 2

    def discretize(self, x, t, dt):
        # SMLD's transition: variance sigma(t)^2 - sigma(t - dt)^2 added, no drift.
        return jnp.zeros_like(x), jnp.sqrt(self.transition(t - dt, t)[1])


@dataclasses.dataclass(frozen=True)
class VESDE(VarianceExploding):
    """Variance-exploding SDE: ``x_t = x_0 + sigma(t) z``, ``sigma(t) = sigma_min (sigma_max / sigma_min)^t``."""

    sigma_min: float = 0.01
    sigma_max: float = 50.0

    @property
    def prior_std(self) -> float:  # type: ignore[override]
        return self.sigma_max

    def sigma(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** jnp.asarray(t)

    def diffusion(self, t):
        return self.sigma(t) * math.sqrt(2.0 * math.log(self.sigma_max / self.sigma_min))

    def time_of_sigma(self, sigma):
        """The ``t`` with ``sigma(t) = sigma``."""
        return jnp.log(sigma / self.sigma_min) / math.log(self.sigma_max / self.sigma_min)
