"""Invertible 1x1 convolutions (Glow): a learned ``C x C`` matrix applied at every position.

On an image ``[H, W, C]`` this is Glow's 1x1 convolution; on a vector ``[D]`` it is a full
linear layer. ``log|det| = positions * log|det W|`` with ``positions = H * W`` (1 for vectors).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.scipy.linalg import lu, solve_triangular

from genjax.bijectors.base import CONSTANTS, Bijector
from genjax.bijectors.permutations import keys_for_permutation, permutation_from_keys


def random_rotation(key: jax.Array, n: int, dtype=None) -> jax.Array:
    """A Haar-random orthogonal ``n x n`` matrix (QR of a Gaussian matrix, signs fixed); the
    default dtype is JAX's default float."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (n, n), dtype or jnp.zeros(()).dtype))
    return q * jnp.sign(jnp.diag(r))[None, :]


def _positions(x) -> int:
    return math.prod(x.shape[1:-1])


def _apply_matrix(w, x):
    """``w @ x[..., :]`` at every position."""
    return jnp.einsum("ij,...j->...i", w, x)


class Conv1x1(Bijector):
    """Full invertible 1x1 convolution: ``W`` initialised as a random rotation, log-det by ``slogdet``."""

    @nn.compact
    def weight(self, channels: int) -> jax.Array:
        return self.param("weight", lambda key: random_rotation(key, channels))

    def forward_and_log_det(self, x, cond=None):
        w = self.weight(x.shape[-1])
        ld = _positions(x) * jnp.linalg.slogdet(w)[1]
        return _apply_matrix(w, x), jnp.broadcast_to(ld, x.shape[:1])

    def inverse_and_log_det(self, y, cond=None):
        w = self.weight(y.shape[-1])
        ld = -_positions(y) * jnp.linalg.slogdet(w)[1]
        return _apply_matrix(jnp.linalg.inv(w), y), jnp.broadcast_to(ld, y.shape[:1])


class Conv1x1LU(Bijector):
    """LU-decomposed 1x1 convolution: ``W = P L (U + diag(sign * exp(log_s)))``.

    ``P`` is a fixed permutation and ``sign`` fixed signs (both in ``constants``); ``L`` is unit
    lower triangular and ``U`` strictly upper triangular (parameters ``lower``, ``upper`` whose
    other entries are ignored), ``log_s`` holds ``log|s|``. At init ``W`` is a random rotation and
    ``P, L, U, s`` its LU factors. ``log|det W| = sum(log_s)``: O(C) instead of O(C^3), and the
    inverse is two triangular solves.
    """

    @nn.compact
    def factors(self, channels: int):
        """``(P, L, U + diag(s), log_s)`` as matrices / vector."""
        c = channels
        # One rotation for all factors. Outside init flax only traces the initialisers (to check
        # shapes), so a dummy key is enough there.
        key = self.make_rng("params") if self.is_initializing() else jax.random.key(0)

        def decomposition():
            return lu(random_rotation(key, c))

        perm_keys = self.variable(
            CONSTANTS, "perm_keys", lambda: keys_for_permutation(jnp.argmax(decomposition()[0], axis=1))
        )
        sign = self.variable(CONSTANTS, "sign", lambda: jnp.sign(jnp.diag(decomposition()[2])))
        lower = self.param("lower", lambda _: jnp.tril(decomposition()[1], -1))
        upper = self.param("upper", lambda _: jnp.triu(decomposition()[2], 1))
        log_s = self.param("log_s", lambda _: jnp.log(jnp.abs(jnp.diag(decomposition()[2]))))
        p = jnp.eye(c, dtype=lower.dtype)[permutation_from_keys(perm_keys.value)]
        l = jnp.tril(lower, -1) + jnp.eye(c, dtype=lower.dtype)
        s = jnp.sign(jax.lax.stop_gradient(sign.value)) * jnp.exp(log_s)
        u = jnp.triu(upper, 1) + jnp.diag(s)
        return p, l, u, log_s

    def weight(self, channels: int) -> jax.Array:
        p, l, u, _ = self.factors(channels)
        return p @ l @ u

    def forward_and_log_det(self, x, cond=None):
        p, l, u, log_s = self.factors(x.shape[-1])
        ld = _positions(x) * jnp.sum(log_s)
        return _apply_matrix(p @ l @ u, x), jnp.broadcast_to(ld, x.shape[:1])

    def inverse_and_log_det(self, y, cond=None):
        p, l, u, log_s = self.factors(y.shape[-1])
        c = y.shape[-1]
        cols = p.T @ jnp.reshape(y, (-1, c)).T  # [C, N]
        a = solve_triangular(l, cols, lower=True, unit_diagonal=True)
        x = solve_triangular(u, a, lower=False).T
        ld = -_positions(y) * jnp.sum(log_s)
        return jnp.reshape(x, y.shape), jnp.broadcast_to(ld, y.shape[:1])
