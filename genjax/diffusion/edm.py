"""EDM (Karras et al. 2022): the noise level as time, log-normal training levels, the rho grid
and the deterministic / stochastic Heun samplers.

In EDM's coordinates the noised data is ``x = x_0 + sigma z`` and time *is* the noise level:
``EDMProcess`` is the variance-exploding process with ``s(t) = t`` (``dx = sqrt(2t) dW``), whose
probability-flow ODE is ``dx/dsigma = (x - D(x, sigma)) / sigma = eps_hat(x, sigma)``. Training
draws ``log sigma ~ N(P_mean, P_std^2)`` (``LogNormalTimes``) and samplers walk the grid

    sigma_i = (sigma_max^(1/rho) + i / (N - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,  sigma_N = 0,

(``karras_sigmas``; rho = 7). ``EDMHeun`` takes N steps of Heun's method on it, the last one
(to sigma = 0) a plain Euler step: ``2N - 1`` denoiser calls. ``EDMStochastic`` first raises
the level by ``gamma = min(S_churn / N, sqrt(2) - 1)`` inside ``[S_tmin, S_tmax]`` with fresh noise
of scale ``S_noise`` (Algorithm 2), and ``EDMEuler`` is the first-order baseline (N calls).

The preconditioned denoiser ``D = c_skip x + c_out F(c_in x, c_noise)`` is
``genjax.diffusion.predictions.EDMPrediction``; the EDM model is a ``Diffusion`` with these parts
(``genjax.diffusion.builders.build_edm``), so DDPM / DDIM / SDE / PC samplers, the generic ODE
solvers and the probability-flow likelihood work with it too. Every step reads the denoiser's
``x0`` and ``eps`` directly (``Denoised``): the Euler step is ``x0 + sigma_next eps``, exact at
``sigma_next = 0`` without the cancellation of ``x + (0 - sigma) eps``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import ClassVar

import jax
import jax.numpy as jnp

from genjax.diffusion.predictions import Denoised
from genjax.diffusion.sde import VarianceExploding, bcast

# (x [batch, *event], sigma scalar or [batch]) -> Denoised in VE coordinates (x = x0 + sigma eps)
DenoiseFn = Callable[[jax.Array, jax.Array], Denoised]


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> jax.Array:
    """``[steps]`` decreasing levels from ``sigma_max`` to ``sigma_min`` on the rho grid (no final 0)."""
    if steps < 1:
        raise ValueError(f"a rho grid needs at least one level, got {steps}")
    if steps == 1:
        return jnp.asarray([sigma_max], jnp.result_type(float))
    i = jnp.arange(steps, dtype=jnp.result_type(float))
    hi, lo = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
    return (hi + i / (steps - 1) * (lo - hi)) ** rho


@dataclasses.dataclass(frozen=True)
class EDMProcess(VarianceExploding):
    """``x_t = x_0 + t z`` on ``t = sigma in [0, sigma_max]``: ``f = 0``, ``g = sqrt(2 t)``, prior ``N(0, sigma_max^2 I)``."""

    sigma_max: float = 80.0

    @property
    def T(self) -> float:  # type: ignore[override]
        return self.sigma_max

    @property
    def prior_std(self) -> float:  # type: ignore[override]
        return self.sigma_max

    def sigma(self, t):
        return jnp.asarray(t, jnp.result_type(float))

    def time_of_sigma(self, sigma):
        return sigma

    def diffusion(self, t):
        return jnp.sqrt(2.0 * jnp.asarray(t, jnp.result_type(float)))


@dataclasses.dataclass(frozen=True)
class LogNormalTimes:
    """EDM's training levels ``log sigma ~ N(p_mean, p_std^2)`` and its sampling grid.

    ``grid(steps, end)`` is the rho grid of ``steps + 1`` levels from ``t_max`` to ``t_min``, or,
    when ``end`` is below ``t_min`` (the data time 0), ``steps`` levels followed by ``end``.
    """

    p_mean: float = -1.2
    p_std: float = 1.2
    t_min: float = 0.002
    t_max: float = 80.0
    rho: float = 7.0

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        return jnp.exp(self.p_mean + self.p_std * jax.random.normal(key, (num,)))

    def grid(self, steps: int, end: float) -> jax.Array:
        if end < self.t_min:
            return jnp.concatenate([karras_sigmas(steps, self.t_min, self.t_max, self.rho),
                                    jnp.asarray([end], jnp.result_type(float))])
        return karras_sigmas(steps + 1, self.t_min, self.t_max, self.rho)

    @property
    def default_steps(self) -> int:
        return 18

    @property
    def num_levels(self) -> int:
        return 10


def euler_step(denoise: DenoiseFn, x: jax.Array, sigma, sigma_next) -> jax.Array:
    """``x + (sigma_next - sigma) eps_hat``, written ``x0_hat + sigma_next eps_hat`` (1 call)."""
    d = denoise(x, sigma)
    return d.x0 + bcast(sigma_next, x) * d.eps


def heun_step(denoise: DenoiseFn, x: jax.Array, sigma, sigma_next) -> jax.Array:
    """Heun's method on ``dx/dsigma = eps_hat(x, sigma)`` from ``sigma`` to ``sigma_next > 0`` (2 calls)."""
    d = denoise(x, sigma)
    x_euler = d.x0 + bcast(sigma_next, x) * d.eps
    d_next = denoise(x_euler, sigma_next)
    return x + bcast(sigma_next - sigma, x) * 0.5 * (d.eps + d_next.eps)


def _ve_denoiser(problem) -> tuple[DenoiseFn, float, float]:
    """The problem's denoiser as a function of the noise level, and its level range.

    Needs a process with ``m = 1`` and ``time_of_sigma`` (``EDMProcess``, ``VESDE``).
    """
    sde = problem.sde
    if not callable(getattr(sde, "time_of_sigma", None)):
        raise ValueError(f"EDM samplers need a variance-exploding process (EDMProcess, VESDE); got {type(sde).__name__}")

    def denoise(x, sigma):
        return problem.denoise(x, sde.time_of_sigma(sigma))

    with jax.ensure_compile_time_eval():
        lo = float(sde.marginal(problem.t_min)[1])
        hi = float(sde.marginal(problem.times.t_max)[1])
    return denoise, lo, hi


def _rho(times, rho):
    return rho if rho is not None else getattr(times, "rho", 7.0)


@dataclasses.dataclass(frozen=True)
class EDMHeun:
    """EDM's deterministic sampler: ``steps`` Heun steps down the rho grid, the last (to 0) Euler.

    ``rho``: the grid's exponent (default: the model's, 7).
    """

    steps: int | None = None
    rho: float | None = None
    OPTIONS: ClassVar[dict] = {"rho": float}
    stochastic: ClassVar[bool] = False

    def levels(self, problem) -> tuple[DenoiseFn, jax.Array]:
        denoise, lo, hi = _ve_denoiser(problem)
        n = self.steps or problem.times.default_steps
        return denoise, karras_sigmas(n, lo, hi, _rho(problem.times, self.rho))

    def gammas(self, sigma, n):
        """``(gamma_i [n], s_noise)``: how much each level is raised before its step (none here)."""
        return jnp.zeros_like(sigma), 0.0

    def __call__(self, problem, key, x):
        denoise, sigmas = self.levels(problem)
        n = sigmas.shape[0]
        nexts = jnp.concatenate([sigmas[1:], jnp.zeros((1,), sigmas.dtype)])
        gammas, s_noise = self.gammas(sigmas, n)

        def raise_level(x, sigma, gamma, k):
            sigma_hat = sigma * (1.0 + gamma)
            if self.stochastic:
                z = jax.random.normal(k, x.shape, x.dtype)
                x = x + jnp.sqrt(jnp.maximum(sigma_hat**2 - sigma**2, 0.0)) * s_noise * z
            return x, sigma_hat

        def body(x, inp):
            sigma, sigma_next, gamma, k = inp
            x, sigma_hat = raise_level(x, sigma, gamma, k)
            return heun_step(denoise, x, sigma_hat, sigma_next), None

        keys = jax.random.split(key, n)
        x, _ = jax.lax.scan(body, x, (sigmas[:-1], nexts[:-1], gammas[:-1], keys[:-1]))
        x, sigma_hat = raise_level(x, sigmas[-1], gammas[-1], keys[-1])
        x = euler_step(denoise, x, sigma_hat, 0.0)
        return x, {"nfe": jnp.asarray(2 * n - 1)}


@dataclasses.dataclass(frozen=True)
class EDMStochastic(EDMHeun):
    """EDM's stochastic sampler (Algorithm 2): Heun steps after raising each level ``sigma_i`` in
    ``[s_tmin, s_tmax]`` to ``sigma_i (1 + gamma)``, ``gamma = min(churn / N, sqrt(2) - 1)``, with
    noise of std ``s_noise sqrt(sigma_hat^2 - sigma_i^2)``. Defaults: EDM's CIFAR-10 VP settings
    (churn 30, s_tmin 0.01, s_tmax 1, s_noise 1.007), for data of std about 0.5."""

    churn: float = 30.0
    s_tmin: float = 0.01
    s_tmax: float = 1.0
    s_noise: float = 1.007
    OPTIONS: ClassVar[dict] = {"churn": float, "s_tmin": float, "s_tmax": float, "s_noise": float, "rho": float}
    stochastic: ClassVar[bool] = True

    def __post_init__(self):
        if self.churn < 0 or self.s_noise < 0 or self.s_tmin > self.s_tmax:
            raise ValueError("edm_stochastic needs churn >= 0, s_noise >= 0 and s_tmin <= s_tmax, got "
                             f"churn={self.churn}, s_noise={self.s_noise}, s_tmin={self.s_tmin}, s_tmax={self.s_tmax}")

    def gammas(self, sigma, n):
        inside = (sigma >= self.s_tmin) & (sigma <= self.s_tmax)
        gamma = jnp.where(inside, min(self.churn / n, math.sqrt(2.0) - 1.0), 0.0)
        return gamma, self.s_noise


@dataclasses.dataclass(frozen=True)
class EDMEuler:
    """Euler's method on the rho grid, ``steps`` steps and calls (the first-order baseline)."""

    steps: int | None = None
    rho: float | None = None
    OPTIONS: ClassVar[dict] = {"rho": float}

    def __call__(self, problem, key, x):
        del key
        denoise, sigmas = EDMHeun(self.steps, self.rho).levels(problem)
        nexts = jnp.concatenate([sigmas[1:], jnp.zeros((1,), sigmas.dtype)])
        x, _ = jax.lax.scan(lambda x, s: (euler_step(denoise, x, s[0], s[1]), None), x, (sigmas, nexts))
        return x, {"nfe": jnp.asarray(sigmas.shape[0])}


EDM_SAMPLER_CLASSES: dict[str, type] = {"edm_heun": EDMHeun, "edm_stochastic": EDMStochastic, "edm_euler": EDMEuler}
EDM_DOCS = {
    "edm_heun": "EDM's deterministic Heun sampler on the rho grid, 2K-1 NFE",
    "edm_stochastic": "EDM's stochastic Heun sampler (S_churn, S_tmin, S_tmax, S_noise), 2K-1 NFE",
    "edm_euler": "Euler on the rho grid, K NFE",
}
