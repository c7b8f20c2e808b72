"""DDIM (Song, Meng & Ermon 2021): non-Markovian steps with a free variance, and inversion.

From ``x_t`` and a noise prediction ``eps`` (so ``x0_hat = (x_t - s_t eps) / m_t``), a step to
``s < t`` is

    x_s = m_s x0_hat + sqrt(s_s^2 - c^2) eps + c z,    c = eta * std of q(x_s | x_t, x_0).

``eta = 1`` gives DDPM's posterior variance (ancestral sampling), ``eta = 0`` a deterministic map
that is a first-order discretisation of the probability-flow ODE; run upwards with ``eta = 0``
it encodes data into latents (``encode``) and ``decode`` maps them back. Written for any linear
process, as in ``genjax.diffusion.ddpm``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genjax.diffusion.ddpm import reverse_variance
from genjax.diffusion.sde import SDE, bcast


def step_std(sde: SDE, t, s, eta) -> jax.Array:
    """``c = eta * sqrt(var of q(x_s | x_t, x_0))``; zero when ``s = 0``."""
    return eta * jnp.sqrt(jnp.maximum(reverse_variance(sde, s, t, "small"), 0.0))


def ddim_step(x: jax.Array, eps: jax.Array, z: jax.Array | None, sde: SDE, t, s, eta=0.0,
              clip: float | None = None, *, x0: jax.Array | None = None) -> jax.Array:
    """One DDIM update ``x_t -> x_s`` (any ``s``, above or below ``t`` when ``eta = 0``).

    Args:
      x: ``[batch, *event]`` state at time ``t``.
      eps: noise prediction at ``(x, t)``.
      z: standard normal draws like ``x`` (unused when ``eta = 0``; may be None then).
      sde: the process.
      t, s: current and next time (scalars).
      eta: the variance knob in ``[0, 1]``.
      clip: bound ``x0_hat`` to ``[-clip, clip]``.
      x0: the clean-data estimate converted directly from the network (``Prediction.to_x0``);
        None rebuilds it from ``eps`` (exact for an eps-prediction).
    """
    m_t, s_t = sde.marginal(t)
    m_s, s_s = sde.marginal(s)
    if x0 is None:
        x0 = (x - bcast(s_t, x) * eps) / bcast(m_t, x)
    if clip is not None:
        x0 = jnp.clip(x0, -clip, clip)
        eps = (x - bcast(m_t, x) * x0) / bcast(s_t, x)
    c = step_std(sde, t, s, eta) if z is not None else jnp.zeros_like(jnp.asarray(s_s))
    out = bcast(m_s, x) * x0 + bcast(jnp.sqrt(jnp.maximum(s_s**2 - c**2, 0.0)), x) * eps
    if z is not None:
        out = out + bcast(c, x) * z
    return out


def _deterministic_chain(denoise_fn, x: jax.Array, sde: SDE, ts: jax.Array) -> jax.Array:
    def body(x, pair):
        t, s = pair
        d = denoise_fn(x, t)
        return ddim_step(x, d.eps, None, sde, t, s, x0=d.x0), None

    x, _ = jax.lax.scan(body, x, (ts[:-1], ts[1:]))
    return x


def encode(denoise_fn, x0: jax.Array, sde: SDE, ts: jax.Array) -> jax.Array:
    """Deterministic DDIM inversion ``x_0 -> x_T`` along the increasing grid ``ts`` (``ts[0]`` = data time).

    Args:
      denoise_fn: ``(x [batch, *event], t scalar) -> Denoised(x0_hat, eps_hat)``.
      x0: ``[batch, *event]`` data.
      sde: the process.
      ts: ``[N + 1]`` increasing times.
    """
    return _deterministic_chain(denoise_fn, x0, sde, ts)


def decode(denoise_fn, xT: jax.Array, sde: SDE, ts: jax.Array) -> jax.Array:
    """Deterministic DDIM sampling ``x_T -> x_0`` down the grid ``ts`` given increasing (as for ``encode``)."""
    return _deterministic_chain(denoise_fn, xT, sde, ts[::-1])
