"""Bridge matching: regress drifts on Brownian bridges pinned at coupled endpoints.

Given pairs ``(x0, x1)`` from a coupling, the Brownian bridge of ``dX = sigma dW`` between them is

    x_t = t x1 + (1 - t) x0 + sigma sqrt(t (1 - t)) eps,        eps ~ N(0, I),

with forward drift ``(x1 - x_t) / (1 - t)`` (the bridge's own drift towards ``x1``) and
backward drift ``(x0 - x_t) / t`` (that of its time reversal towards ``x0``). Minimising
``E |b(x_t, t) - target|^2`` over drifts ``b`` gives the conditional expectation of the target
given ``x_t``: the drift of the *Markovian projection* of the bridge mixture, whose SDE has
the mixture's marginals at every ``t`` (Peluchetti 2023; Shi et al. 2023). On the Schrödinger
bridge's own coupling the projection is the Schrödinger bridge.

The noise in the targets has variance ``sigma^2 t / (1 - t)`` per coordinate (forward) and
``sigma^2 (1 - t) / t`` (backward): finite at one end, divergent at the other, so the forward
drift is fitted on times uniform on ``[0, 1 - t_eps]`` and the backward one on ``[t_eps, 1]``
(the average noise variance is then ``sigma^2 (log(1 / t_eps) - 1 + t_eps)``). Euler-Maruyama on
``N`` steps evaluates the forward drift at ``t <= 1 - 1/N`` and the backward one at ``t >= 1/N``
only, so ``t_eps`` up to ``1/N`` loses nothing it samples with. With ``sigma = 0`` the bridge is
the straight line and both targets are ``+-(x1 - x0)``: rectified flow's.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

DIRECTIONS = ("forward", "backward")


def _col(t: jax.Array, x: jax.Array) -> jax.Array:
    """``t [batch]`` broadcast against ``x [batch, *event]``."""
    return jnp.reshape(t, t.shape + (1,) * (x.ndim - 1)).astype(x.dtype)


def brownian_bridge(x0: jax.Array, x1: jax.Array, t: jax.Array, noise: jax.Array, sigma) -> jax.Array:
    """``x_t = t x1 + (1 - t) x0 + sigma sqrt(t (1 - t)) noise``.

    Args:
      x0, x1, noise: ``[batch, *event]``.
      t: ``[batch]`` in ``[0, 1]``.
      sigma: the reference's noise level (``>= 0``).
    """
    tc = _col(t, x0)
    return tc * x1 + (1.0 - tc) * x0 + sigma * jnp.sqrt(tc * (1.0 - tc)) * noise


def forward_target(x1: jax.Array, xt: jax.Array, t: jax.Array) -> jax.Array:
    """``(x1 - x_t) / (1 - t)`` ``[batch, *event]``, for ``t < 1``."""
    return (x1 - xt) / (1.0 - _col(t, xt))


def backward_target(x0: jax.Array, xt: jax.Array, t: jax.Array) -> jax.Array:
    """``(x0 - x_t) / t`` ``[batch, *event]``, for ``t > 0``."""
    return (x0 - xt) / _col(t, xt)


def sample_times(key: jax.Array, num: int, t_eps: float, direction: str) -> jax.Array:
    """``num`` i.i.d. training times ``[num]``: uniform on ``[0, 1 - t_eps]`` for the forward
    drift, on ``[t_eps, 1]`` for the backward one (away from each target's divergent end)."""
    u = (1.0 - t_eps) * jax.random.uniform(key, (num,))
    return u if direction == "forward" else 1.0 - u


def bridge_matching_loss(
    drift: Callable[[jax.Array, jax.Array], jax.Array],
    x0: jax.Array,
    x1: jax.Array,
    t: jax.Array,
    noise: jax.Array,
    sigma,
    direction: str,
) -> jax.Array:
    """Per-example bridge-matching error ``mean_dims |drift(x_t, t) - target|^2``: ``[batch]``.

    Args:
      drift: ``(x [batch, *event], t [batch]) -> [batch, *event]``, the drift being fitted.
      x0, x1: coupled endpoints ``[batch, *event]``.
      t: ``[batch]`` times in ``(0, 1)``.
      noise: ``[batch, *event]`` standard normal draws of the bridge.
      sigma: the reference's noise level.
      direction: "forward" (target ``(x1 - x_t) / (1 - t)``) or "backward" (``(x0 - x_t) / t``).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    xt = brownian_bridge(x0, x1, t, noise, sigma)
    target = forward_target(x1, xt, t) if direction == "forward" else backward_target(x0, xt, t)
    err = drift(xt, t) - jax.lax.stop_gradient(target)
    return jnp.mean(jnp.reshape(err**2, (err.shape[0], -1)), axis=-1)
