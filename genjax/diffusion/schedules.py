"""Noise schedules of variance-preserving diffusions, in discrete and continuous time.

A schedule fixes how much signal survives at time ``t`` in ``[0, 1]``: the forward process
gives ``x_t = alpha(t) x_0 + sigma(t) eps`` with ``alpha_bar(t) = alpha(t)^2`` and
``sigma(t)^2 = 1 - alpha_bar(t)``. Every schedule is written through its log-SNR
``lambda(t) = log(alpha^2 / sigma^2)`` (Kingma et al. 2021), from which everything else follows;
``beta(t) = -d log alpha_bar / dt`` is the rate of the equivalent VP SDE
``dx = -beta/2 x dt + sqrt(beta) dW`` (by automatic differentiation unless a schedule knows it
in closed form).

Discrete schedules (DDPM) are ``betas [T]``; ``DiscreteSchedule`` places ``alpha_bar_i`` at
``t = i / T`` and interpolates ``log alpha_bar`` in between, so a DDPM schedule is also
a continuous schedule (its PF-ODE and SDE samplers use the interpolation), and any continuous
schedule gives discrete betas with ``to_betas``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np


class Schedule:
    """Base class of VP schedules: subclasses define ``log_snr(t)`` (decreasing in ``t``).

    All methods take ``t`` as a scalar or an array and work elementwise.
    """

    def log_snr(self, t: jax.Array) -> jax.Array:
        raise NotImplementedError

    def log_alpha_bar(self, t: jax.Array) -> jax.Array:
        return jax.nn.log_sigmoid(self.log_snr(t))

    def alpha_bar(self, t: jax.Array) -> jax.Array:
        return jnp.exp(self.log_alpha_bar(t))

    def sigma2(self, t: jax.Array) -> jax.Array:
        """``sigma(t)^2 = 1 - alpha_bar(t)``."""
        return jax.nn.sigmoid(-self.log_snr(t))

    def alpha(self, t: jax.Array) -> jax.Array:
        return jnp.exp(0.5 * self.log_alpha_bar(t))

    def sigma(self, t: jax.Array) -> jax.Array:
        return jnp.sqrt(self.sigma2(t))

    def beta(self, t: jax.Array) -> jax.Array:
        """``-d log alpha_bar / dt``: the rate of the equivalent VP SDE."""
        t = jnp.asarray(t, jnp.result_type(float))
        grad = jax.grad(lambda s: self.log_alpha_bar(s))
        return -jnp.vectorize(grad)(t)

    def to_betas(self, num_steps: int) -> np.ndarray:
        """Discrete betas with ``prod_{j <= i} (1 - beta_j) = alpha_bar(i / T)``."""
        ts = np.arange(num_steps + 1) / num_steps
        log_ab = np.array(self.log_alpha_bar(jnp.asarray(ts)), np.float64)
        log_ab[0] = 0.0
        return -np.expm1(np.diff(log_ab))


@dataclasses.dataclass(frozen=True)
class LinearBeta(Schedule):
    """The continuous limit of DDPM's linear betas: ``beta(t) = beta_min + t (beta_max - beta_min)``.

    ``log alpha_bar(t) = -(beta_min t + (beta_max - beta_min) t^2 / 2)``; the defaults are those of
    the VP SDE of Song et al. (2021), the limit of DDPM's ``beta in [1e-4, 0.02]`` with T = 1000.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def log_alpha_bar(self, t):
        t = jnp.asarray(t)
        return -(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2)

    def sigma2(self, t):
        return -jnp.expm1(self.log_alpha_bar(t))

    def log_snr(self, t):
        return self.log_alpha_bar(t) - jnp.log(self.sigma2(t))

    def beta(self, t):
        return self.beta_min + jnp.asarray(t) * (self.beta_max - self.beta_min)


@dataclasses.dataclass(frozen=True)
class CosineLogSNR(Schedule):
    """The cosine schedule in log-SNR form: ``lambda(t) = -2 log tan(a t + b)``.

    ``a, b`` map ``t = 0`` to ``logsnr_max`` and ``t = 1`` to ``logsnr_min``; between them
    ``alpha_bar(t) = cos^2(a t + b)`` is Nichol & Dhariwal's cosine schedule with its ends clipped
    (as in "simple diffusion", Hoogeboom et al. 2023).
    """

    logsnr_min: float = -15.0
    logsnr_max: float = 15.0

    def log_snr(self, t):
        b = math.atan(math.exp(-0.5 * self.logsnr_max))
        a = math.atan(math.exp(-0.5 * self.logsnr_min)) - b
        return -2.0 * jnp.log(jnp.tan(a * jnp.asarray(t) + b))


@dataclasses.dataclass(frozen=True)
class LinearLogSNR(Schedule):
    """``lambda(t)`` linear from ``logsnr_max`` at t = 0 to ``logsnr_min`` at t = 1 (VDM's fixed schedule)."""

    logsnr_min: float = -10.0
    logsnr_max: float = 10.0

    def log_snr(self, t):
        return self.logsnr_max + (self.logsnr_min - self.logsnr_max) * jnp.asarray(t)


def linear_betas(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02,
                 max_beta: float = 0.999) -> np.ndarray:
    """DDPM's linear betas (Ho et al. 2020), scaled so any ``num_steps`` gives the same process.

    The endpoints are given for T = 1000 and scaled by ``1000 / num_steps``, as in improved DDPM
    (and clipped at ``max_beta`` for very few steps).
    """
    scale = 1000.0 / num_steps
    return np.minimum(np.linspace(scale * beta_start, scale * beta_end, num_steps, dtype=np.float64), max_beta)


def vp_betas(num_steps: int, beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3) -> np.ndarray:
    """The VP SDE's linear-beta process (``LinearBeta``) on ``num_steps`` equal steps of ``[t_min, 1]``.

    Step ``i`` ends at ``t_i = t_min + (1 - t_min) i / T`` and ``alpha_bar_i`` is
    ``alpha_bar(t_i) / alpha_bar(t_min)``, so the data sit at ``i = 0`` without noise: the
    few-step discretisation of denoising diffusion GANs (Xiao et al. 2022), which keeps the
    continuous process's ``alpha_bar(1)`` (about 4e-5 for the defaults) at any ``T``, where
    ``linear_betas`` clips its scaled betas at ``max_beta`` for small ``T``.
    """
    t = t_min + (1.0 - t_min) * np.arange(num_steps + 1, dtype=np.float64) / num_steps
    log_ab = -(beta_min * t + 0.5 * (beta_max - beta_min) * t**2)
    return -np.expm1(np.diff(log_ab))


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal's cosine betas: ``alpha_bar(t) = cos^2((t + s) / (1 + s) pi / 2)`` / its value at 0."""
    t = np.arange(num_steps + 1, dtype=np.float64) / num_steps
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], max_beta)


class DiscreteSchedule(Schedule):
    """A DDPM schedule of ``T`` betas, seen as a continuous schedule on ``[0, 1]``.

    ``alpha_bar_i = prod_{j <= i} (1 - beta_j)`` sits at ``t = i / T`` (``alpha_bar_0 = 1`` at
    t = 0). In between, ``log alpha_bar`` is the monotone cubic (PCHIP) interpolant of the grid
    values, so ``beta(t)`` is continuous and non-negative (an adaptive PF-ODE solve takes far
    fewer steps than through a piecewise-linear interpolant's jumps in ``beta``), and the
    discretisation ``1 - alpha_bar(t) / alpha_bar(t - 1/T)`` on the grid gives back ``beta_i``.

    Args:
      betas: ``[T]`` values in ``(0, 1)``.
    """

    def __init__(self, betas):
        from scipy.interpolate import PchipInterpolator

        betas = np.asarray(betas, np.float64)
        if betas.ndim != 1 or not np.all((betas > 0) & (betas < 1)):
            raise ValueError("betas must be a 1-D array of values in (0, 1)")
        self.betas = betas
        self.num_steps = len(betas)
        log_ab = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
        self._log_ab = tuple(float(v) for v in log_ab)  # hashable: the schedule is a static value
        grid = np.arange(self.num_steps + 1) / self.num_steps
        # [T, 4]: cubic coefficients of each interval, highest power first, in (t - t_i)
        self._coef = np.asarray(PchipInterpolator(grid, log_ab).c.T, np.float64)

    def __hash__(self):
        return hash(self._log_ab)

    def __eq__(self, other):
        return isinstance(other, DiscreteSchedule) and self._log_ab == other._log_ab

    @property
    def alphas_bar(self) -> np.ndarray:
        """``[T + 1]``: ``alpha_bar_i`` for ``i = 0..T``."""
        return np.exp(np.asarray(self._log_ab))

    def log_alpha_bar(self, t):
        t = jnp.asarray(t)
        coef = jnp.asarray(self._coef, jnp.result_type(float))
        pos = t * self.num_steps  # not clipped: a clip would halve the derivative at t = 0 and 1
        i = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, self.num_steps - 1)
        h = (pos - i) / self.num_steps
        c = coef[i]
        return ((c[..., 0] * h + c[..., 1]) * h + c[..., 2]) * h + c[..., 3]

    def sigma2(self, t):
        return -jnp.expm1(self.log_alpha_bar(t))

    def log_snr(self, t):
        return self.log_alpha_bar(t) - jnp.log(self.sigma2(t))
