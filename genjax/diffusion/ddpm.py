"""DDPM (Ho et al. 2020): the forward posterior, ancestral steps and the variational bound.

Written for any linear process (``genjax.diffusion.sde``) on a time grid
``0 = t_0 < t_1 < ... < t_N``, so the same code serves DDPM's 1000 steps, a strided subset of
them and a continuous-time VP / sub-VP process sampled on any grid. For ``s < t`` with the
transition ``x_t = m_ts x_s + sqrt(v_ts) z``:

    q(x_s | x_t, x_0) = N(mu, var I),
    mu  = m_s v_ts / s_t^2 * x_0 + m_ts s_s^2 / s_t^2 * x_t,
    var = v_ts s_s^2 / s_t^2,

which for DDPM's grid is ``mu = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 +
sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t`` and ``var = beta_t (1 - abar_{t-1}) /
(1 - abar_t)`` (eqs. 6-7 of the paper). The reverse model ``p(x_s | x_t)`` uses the same mean with
``x_0`` replaced by the prediction ``x0_hat`` and a fixed variance: the posterior's ("small",
``beta-tilde``) or the transition's ("large", ``beta``).

The negative variational bound, in nats per example,

    L = KL(q(x_N | x_0) || prior) + sum_{i >= 2} KL(q(x_{i-1} | x_i, x_0) || p(x_{i-1} | x_i))
        - log p(x_0 | x_1),

uses for its last term a Gaussian decoder with the transition variance of the first step; for
discrete data it is integrated over each value's bin (the discretised decoder of DDPM section
3.3, edge bins open to infinity), so ``-L`` bounds the log-probability of the discrete values.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from genjax.diffusion.sde import SDE, bcast

VARIANCES = ("small", "large")


def _sum_event(v: jax.Array) -> jax.Array:
    return jnp.sum(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


def posterior(sde: SDE, x0: jax.Array, xt: jax.Array, s, t) -> tuple[jax.Array, jax.Array]:
    """Mean ``[batch, *event]`` and variance (shape of ``s``) of ``q(x_s | x_t, x_0)``, ``s < t``."""
    m_s, s_s = sde.marginal(s)
    _, s_t = sde.marginal(t)
    m_ts, v_ts = sde.transition(s, t)
    c0 = m_s * v_ts / s_t**2
    ct = m_ts * s_s**2 / s_t**2
    mean = bcast(c0, x0) * x0 + bcast(ct, xt) * xt
    return mean, v_ts * s_s**2 / s_t**2


def reverse_variance(sde: SDE, s, t, variance: str):
    """The fixed variance of ``p(x_s | x_t)``: the posterior's ("small") or the transition's ("large")."""
    if variance == "small":
        _, s_s = sde.marginal(s)
        _, s_t = sde.marginal(t)
        return sde.transition(s, t)[1] * s_s**2 / s_t**2
    if variance == "large":
        return sde.transition(s, t)[1]
    raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")


def gaussian_kl(mean1, var1, mean2, var2) -> jax.Array:
    """``KL(N(mean1, var1 I) || N(mean2, var2 I))`` per example: means ``[batch, *event]``."""
    var1 = bcast(jnp.asarray(var1), mean1)
    var2 = bcast(jnp.asarray(var2), mean1)
    kl = 0.5 * (jnp.log(var2) - jnp.log(var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1.0)
    return _sum_event(jnp.broadcast_to(kl, mean1.shape))


def log_diff_ndtr(a: jax.Array, b: jax.Array) -> jax.Array:
    """``log(Phi(b) - Phi(a))`` for ``a < b``, accurate in both tails."""
    upper_tail = a > 0  # both in the upper tail: use Phi(-a) - Phi(-b), which does not cancel
    hi = jnp.where(upper_tail, log_ndtr(-a), log_ndtr(b))
    lo = jnp.where(upper_tail, log_ndtr(-b), log_ndtr(a))
    return hi + jnp.log1p(-jnp.exp(jnp.minimum(lo - hi, 0.0)))


@dataclasses.dataclass(frozen=True)
class Bins:
    """The discrete values of dequantized data in model space: bin ``k`` is ``[lo + k w, lo + (k+1) w)``."""

    lo: float
    width: float
    levels: int

    def index(self, x: jax.Array) -> jax.Array:
        return jnp.clip(jnp.floor((x - self.lo) / self.width), 0, self.levels - 1)


def discretized_gaussian_logp(x: jax.Array, mean: jax.Array, std, bins: Bins) -> jax.Array:
    """``log P(bin of x)`` under ``N(mean, std^2)`` per value, summed per example; edge bins open.

    Args:
      x: ``[batch, *event]`` values in model space (any point of a bin names the bin).
      mean: ``[batch, *event]``.
      std: scalar or broadcastable.
      bins: the bins of the data.

    Returns:
      ``[batch]`` log-probabilities (the probabilities of all bins sum to 1).
    """
    k = bins.index(x)
    lower = (bins.lo + k * bins.width - mean) / std
    upper = (bins.lo + (k + 1) * bins.width - mean) / std
    lower = jnp.where(k <= 0, -jnp.inf, lower)
    upper = jnp.where(k >= bins.levels - 1, jnp.inf, upper)
    return _sum_event(log_diff_ndtr(lower, upper))


def gaussian_logp(x: jax.Array, mean: jax.Array, var) -> jax.Array:
    """``log N(x; mean, var I)`` per example."""
    var = bcast(jnp.asarray(var), x)
    lp = -0.5 * ((x - mean) ** 2 / var + jnp.log(2 * math.pi * var))
    return _sum_event(jnp.broadcast_to(lp, x.shape))


def ancestral_step(x: jax.Array, eps: jax.Array, z: jax.Array, sde: SDE, t, s, variance: str = "small",
                   clip: float | None = None, *, x0: jax.Array | None = None) -> jax.Array:
    """One DDPM step ``x_t -> x_s ~ p(x_s | x_t)`` given the noise prediction ``eps`` and noise ``z``.

    ``clip`` bounds ``x0_hat`` to ``[-clip, clip]`` (images in [-1, 1]); at ``s = 0`` the step
    returns the posterior mean (no noise), as DDPM's last step does. ``x0``: the clean-data
    estimate converted directly from the network (``Prediction.to_x0``); None rebuilds it from
    ``eps`` (exact for an eps-prediction).
    """
    m_t, s_t = sde.marginal(t)
    if x0 is None:
        x0 = (x - bcast(s_t, x) * eps) / bcast(m_t, x)
    if clip is not None:
        x0 = jnp.clip(x0, -clip, clip)
    mean, _ = posterior(sde, x0, x, s, t)
    var = reverse_variance(sde, s, t, variance)
    var = jnp.where(jnp.asarray(s) > 0, var, 0.0)
    return mean + bcast(jnp.sqrt(var), x) * z


def prior_kl(sde: SDE, x0: jax.Array) -> jax.Array:
    """``KL(q(x_T | x_0) || prior)`` per example (``T = 1``)."""
    m, s = sde.marginal(jnp.asarray(sde.T))
    return gaussian_kl(m * x0, s**2, jnp.zeros_like(x0), sde.prior_std**2)


def vlb_term(sde: SDE, denoise_fn, x0: jax.Array, noise: jax.Array, t_prev, t, *, first: jax.Array,
             variance: str, bins: Bins | None) -> jax.Array:
    """One term of the negative bound per example: the KL at ``(t_prev, t)``, or the decoder NLL.

    Args:
      sde: the process.
      denoise_fn: ``(x_t, t) -> Denoised`` (its ``x0`` is the reverse model's clean estimate).
      x0: ``[batch, *event]`` data in model space.
      noise: ``[batch, *event]`` standard normal draws making ``x_t``.
      t_prev, t: ``[batch]`` (or scalar) consecutive grid times ``t_prev < t``.
      first: ``[batch]`` (or scalar) bool, True where ``t_prev == 0`` (the decoder term).
      variance: "small" or "large", the reverse model's variance.
      bins: the data's bins (discretised decoder), or None for continuous data.

    Returns:
      ``[batch]`` nats.
    """
    xt = sde.perturb(x0, t, noise)
    x0_hat = denoise_fn(xt, t).x0
    mean_q, var_q = posterior(sde, x0, xt, t_prev, t)
    mean_p, _ = posterior(sde, x0_hat, xt, t_prev, t)
    var_p = reverse_variance(sde, t_prev, t, variance)
    # var_q = 0 at the first step; keep the unselected KL branch finite there (and its gradient).
    kl = gaussian_kl(mean_q, jnp.where(first, 1.0, var_q), mean_p, jnp.where(first, 1.0, var_p))
    dec_var = sde.transition(t_prev, t)[1]  # the decoder's variance: the first step's beta
    if bins is None:
        decoder = -gaussian_logp(x0, x0_hat, dec_var)
    else:
        decoder = -discretized_gaussian_logp(x0, x0_hat, bcast(jnp.sqrt(dec_var), x0), bins)
    return jnp.where(first, decoder, kl)
