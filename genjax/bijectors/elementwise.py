"""Elementwise bijectors: learned scaling (NICE), ActNorm (Glow), fixed affine and sigmoid maps,
and the cond-indexed affine map of continuously-indexed flows."""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.bijectors.base import Bijector, sum_except_batch
from genjax.bijectors.transforms import soft_clamp
from genjax.nn import MLP


def _positions(x: jax.Array) -> int:
    """Number of positions sharing one per-channel parameter: all event axes but the last."""
    return math.prod(x.shape[1:-1])


class ElementwiseAffine(Bijector):
    """``y = x * exp(s) + t`` with one learned ``(s, t)`` per element of the event (identity at init).

    With ``shift=False`` it is NICE's diagonal scaling layer, the only non volume-preserving
    layer of NICE.
    """

    shift: bool = True

    @nn.compact
    def _params(self, event_shape):
        log_scale = self.param("log_scale", nn.initializers.zeros, event_shape)
        shift = self.param("shift", nn.initializers.zeros, event_shape) if self.shift else 0.0
        return log_scale, shift

    def forward_and_log_det(self, x, cond=None):
        log_scale, shift = self._params(x.shape[1:])
        return x * jnp.exp(log_scale) + shift, jnp.broadcast_to(jnp.sum(log_scale), x.shape[:1])

    def inverse_and_log_det(self, y, cond=None):
        log_scale, shift = self._params(y.shape[1:])
        return (y - shift) * jnp.exp(-log_scale), jnp.broadcast_to(-jnp.sum(log_scale), y.shape[:1])


class ActNorm(Bijector):
    """Per-channel affine ``y = x * exp(s) + b`` (channels = last axis) with data-dependent init.

    At ``init`` the parameters are set from the batch so that the *output* of the direction being
    initialised has zero mean and unit variance per channel (statistics over the batch and all
    other event axes); afterwards they are ordinary parameters. A flow is initialised in the
    normalizing direction on data (``Flow.init``, ``Bijector.__call__``): then ``b`` is the channel
    mean and ``exp(s)`` the channel standard deviation of this layer's data-side input.
    """

    eps: float = 1e-6

    @nn.compact
    def _params(self, h, inverse: bool):
        axes = tuple(range(h.ndim - 1))

        def stats():
            mean = jnp.mean(h, axis=axes)
            std = jnp.std(h, axis=axes) + self.eps
            return mean, std

        def init_log_scale(_):
            _, std = stats()
            return jnp.log(std) if inverse else -jnp.log(std)

        def init_shift(_):
            mean, std = stats()
            return mean if inverse else -mean / std

        return self.param("log_scale", init_log_scale), self.param("shift", init_shift)

    def forward_and_log_det(self, x, cond=None):
        log_scale, shift = self._params(x, inverse=False)
        ld = _positions(x) * jnp.sum(log_scale)
        return x * jnp.exp(log_scale) + shift, jnp.broadcast_to(ld, x.shape[:1])

    def inverse_and_log_det(self, y, cond=None):
        log_scale, shift = self._params(y, inverse=True)
        ld = -_positions(y) * jnp.sum(log_scale)
        return (y - shift) * jnp.exp(-log_scale), jnp.broadcast_to(ld, y.shape[:1])


class FixedAffine(Bijector):
    """``y = x * scale + shift`` with fixed scalars (e.g. from the unit interval to a data range)."""

    scale: float = 1.0
    shift: float = 0.0

    def forward_and_log_det(self, x, cond=None):
        ld = jnp.full(x.shape[:1], math.prod(x.shape[1:]) * math.log(abs(self.scale)), x.dtype)
        return x * self.scale + self.shift, ld

    def inverse_and_log_det(self, y, cond=None):
        ld = jnp.full(y.shape[:1], -math.prod(y.shape[1:]) * math.log(abs(self.scale)), y.dtype)
        return (y - self.shift) / self.scale, ld


class Sigmoid(Bijector):
    """``y = (sigmoid(x) - alpha) / (1 - 2 alpha)``: the real line onto ``(-a', 1 + a')``.

    The inverse is RealNVP's logit preprocessing of data in ``[0, 1)``:
    ``x = logit(alpha + (1 - 2 alpha) y)``; ``alpha`` keeps the logit away from 0 and 1.
    """

    alpha: float = 0.05

    def forward_and_log_det(self, x, cond=None):
        a = self.alpha
        y = (jax.nn.sigmoid(x) - a) / (1.0 - 2.0 * a)
        ld = jax.nn.log_sigmoid(x) + jax.nn.log_sigmoid(-x) - math.log(1.0 - 2.0 * a)
        return y, sum_except_batch(ld)

    def inverse_and_log_det(self, y, cond=None):
        a = self.alpha
        p = a + (1.0 - 2.0 * a) * y
        x = jnp.log(p) - jnp.log1p(-p)
        ld = math.log(1.0 - 2.0 * a) - jnp.log(p) - jnp.log1p(-p)
        return x, sum_except_batch(ld)


class ConditionalAffine(Bijector):
    """``y = x * exp(s(c)) + t(c)`` elementwise, with ``(s, t)`` an MLP of ``cond`` (zero-initialised).

    The u-indexed layer of continuously-indexed flows (Cornish et al. 2020): a different affine
    map for every value of the index ``cond``. Vector events ``[batch, dim]``.
    """

    hidden: Sequence[int] = (32, 32)
    activation: str = "relu"
    log_scale_bound: float = 3.0

    @nn.compact
    def _params(self, cond, dim: int):
        if cond is None:
            raise ValueError("ConditionalAffine needs cond=")
        out = MLP(self.hidden, 2 * dim, activation=self.activation, zero_init_last=True)(cond)
        return soft_clamp(out[:, :dim], self.log_scale_bound), out[:, dim:]

    def forward_and_log_det(self, x, cond=None):
        log_scale, shift = self._params(cond, x.shape[-1])
        return x * jnp.exp(log_scale) + shift, jnp.sum(log_scale, axis=-1)

    def inverse_and_log_det(self, y, cond=None):
        log_scale, shift = self._params(cond, y.shape[-1])
        return (y - shift) * jnp.exp(-log_scale), -jnp.sum(log_scale, axis=-1)
