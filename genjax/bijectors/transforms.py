"""Elementwise transformers: the invertible scalar maps inside coupling and autoregressive layers.

A transformer maps each element ``x_i`` with its own parameters ``p_i`` (computed by a conditioner
from the other elements): ``forward(x, p) -> (y, log|dy/dx|)`` with ``x, y, log_det`` of shape
``[...]`` and ``p`` of shape ``[..., num_params]``. Every transformer is the identity when its
parameters are zero, so a conditioner with a zero-initialised last layer starts at the identity.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp


def soft_clamp(x: jax.Array, bound: float) -> jax.Array:
    """``bound * tanh(x / bound)``: the identity near 0, bounded by ``+-bound`` (0: no bound)."""
    if not bound:
        return x
    return bound * jnp.tanh(x / bound)


@dataclasses.dataclass(frozen=True)
class Additive:
    """``y = x + t`` (NICE): volume preserving."""

    num_params = 1

    def forward(self, x, p):
        return x + p[..., 0], jnp.zeros_like(x)

    def inverse(self, y, p):
        return y - p[..., 0], jnp.zeros_like(y)


@dataclasses.dataclass(frozen=True)
class Affine:
    """``y = x * exp(s) + t`` with ``s = soft_clamp(raw, log_scale_bound)`` (RealNVP, Glow).

    Bounding the log-scale keeps early training stable; ``log_scale_bound = 0`` leaves it free.
    """

    log_scale_bound: float = 3.0
    num_params = 2

    def _unpack(self, p):
        return p[..., 0], soft_clamp(p[..., 1], self.log_scale_bound)

    def forward(self, x, p):
        shift, log_scale = self._unpack(p)
        return x * jnp.exp(log_scale) + shift, log_scale

    def inverse(self, y, p):
        shift, log_scale = self._unpack(p)
        return (y - shift) * jnp.exp(-log_scale), -log_scale


@dataclasses.dataclass(frozen=True)
class RationalQuadraticSpline:
    """Monotone rational-quadratic spline on ``[-bound, bound]``, identity outside (Durkan et al. 2019).

    ``num_bins`` bins; the parameters are ``num_bins`` unnormalised widths, ``num_bins`` heights
    and ``num_bins - 1`` interior derivatives (the two boundary derivatives are 1, matching the
    identity tails). Widths and heights go through a softmax with a floor, derivatives through a
    shifted softplus with a floor, shifted so that all-zero parameters give the identity.
    """

    num_bins: int = 8
    bound: float = 3.0
    min_bin_width: float = 1e-3
    min_bin_height: float = 1e-3
    min_derivative: float = 1e-3

    @property
    def num_params(self) -> int:
        return 3 * self.num_bins - 1

    def _knots(self, p):
        k, b = self.num_bins, self.bound

        def positions(raw, minimum):
            frac = minimum + (1.0 - minimum * k) * jax.nn.softmax(raw, axis=-1)
            knots = jnp.cumsum(frac, axis=-1)
            knots = jnp.concatenate([jnp.zeros_like(knots[..., :1]), knots[..., :-1], jnp.ones_like(knots[..., :1])], -1)
            return 2.0 * b * knots - b  # [..., k + 1], exactly -b and b at the ends

        xs = positions(p[..., :k], self.min_bin_width)
        ys = positions(p[..., k : 2 * k], self.min_bin_height)
        offset = math.log(math.expm1(1.0 - self.min_derivative))  # softplus(0 + offset) + min = 1
        inner = self.min_derivative + jax.nn.softplus(p[..., 2 * k :] + offset)
        ones = jnp.ones_like(inner[..., :1])
        derivs = jnp.concatenate([ones, inner, ones], axis=-1)  # [..., k + 1]
        return xs, ys, derivs

    @staticmethod
    def _bin(knots, v):
        """Index of the bin of ``v`` among ``knots [..., k + 1]``, in ``[0, k - 1]``."""
        return jnp.sum(v[..., None] >= knots[..., 1:-1], axis=-1)

    @staticmethod
    def _gather(a, idx):
        return jnp.take_along_axis(a, idx[..., None], axis=-1)[..., 0]

    def _bin_params(self, xs, ys, ds, idx):
        g = self._gather
        x0, x1 = g(xs, idx), g(xs, idx + 1)
        y0, y1 = g(ys, idx), g(ys, idx + 1)
        d0, d1 = g(ds, idx), g(ds, idx + 1)
        w, h = x1 - x0, y1 - y0
        return x0, y0, w, h, h / w, d0, d1

    def _log_derivative(self, xi, s, d0, d1):
        one_m = 1.0 - xi
        denom = s + (d0 + d1 - 2.0 * s) * xi * one_m
        num = s**2 * (d1 * xi**2 + 2.0 * s * xi * one_m + d0 * one_m**2)
        return jnp.log(num) - 2.0 * jnp.log(denom)

    def forward(self, x, p):
        b = self.bound
        inside = jnp.abs(x) < b
        xc = jnp.clip(x, -b, b)  # safe values outside; the result is discarded there
        xs, ys, ds = self._knots(p)
        x0, y0, w, h, s, d0, d1 = self._bin_params(xs, ys, ds, self._bin(xs, xc))
        xi = jnp.clip((xc - x0) / w, 0.0, 1.0)
        one_m = 1.0 - xi
        denom = s + (d0 + d1 - 2.0 * s) * xi * one_m
        y = y0 + h * (s * xi**2 + d0 * xi * one_m) / denom
        log_det = self._log_derivative(xi, s, d0, d1)
        return jnp.where(inside, y, x), jnp.where(inside, log_det, 0.0)

    def inverse(self, y, p):
        b = self.bound
        inside = jnp.abs(y) < b
        yc = jnp.clip(y, -b, b)
        xs, ys, ds = self._knots(p)
        x0, y0, w, h, s, d0, d1 = self._bin_params(xs, ys, ds, self._bin(ys, yc))
        dy = yc - y0
        c_sum = d0 + d1 - 2.0 * s
        a = h * (s - d0) + dy * c_sum
        bq = h * d0 - dy * c_sum
        c = -s * dy
        disc = jnp.maximum(bq**2 - 4.0 * a * c, 0.0)
        xi = jnp.clip(2.0 * c / (-bq - jnp.sqrt(disc)), 0.0, 1.0)
        x = x0 + xi * w
        log_det = -self._log_derivative(xi, s, d0, d1)
        return jnp.where(inside, x, y), jnp.where(inside, log_det, 0.0)
