"""Invertible residual blocks (i-ResNet, Behrmann et al. 2019; Residual Flows, Chen et al. 2019).

A block is ``F(y) = y + g(y)`` with ``Lip(g) < 1``, which makes ``F`` invertible. ``g`` is an MLP
whose weight matrices are spectrally normalised (power iteration) to norm at most ``lipschitz``
and whose activation is LipSwish (``x sigmoid(x) / 1.1``, Lipschitz 1), so
``Lip(g) <= lipschitz^(layers)`` < 1.

Direction: the explicit map ``F`` is the normalizing one (data -> base), as in i-ResNets, so
density evaluation is one pass plus a log-det and sampling (``forward``) solves ``y + g(y) = x``
by the fixed-point iteration ``y <- x - g(y)``, which converges geometrically at rate ``Lip(g)``.

``log|det(I + J_g)|`` is computed by one of:

- ``"exact"``: ``slogdet(I + jacfwd(g))`` per example (small dimension).
- ``"series"``: the power series ``sum_k (-1)^(k+1) tr(J_g^k) / k`` truncated after ``terms``
  terms, each trace by Hutchinson's estimator ``v^T J^k v`` with one Rademacher probe ``v``
  (biased by the truncation, which shrinks like ``Lip(g)^terms``).
- ``"roulette"``: the Russian-roulette estimator of Residual Flows: ``N = exact_terms + G``
  terms with ``G ~ Geometric(p)`` (``P(G >= j) = (1 - p)^j``), term ``k`` reweighted by
  ``1 / P(N >= k)``. Unbiased for the log-det, except for terms beyond the static cap
  ``terms`` (a compiled program needs one), which ``N`` reaches with probability
  ``(1 - p)^(terms - exact_terms)``.

The stochastic estimators draw from the ``logdet`` rng stream (pass ``rngs={"logdet": key}``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.bijectors.base import CONSTANTS, LOGDET_RNG, Bijector

LOGDET_METHODS = ("exact", "series", "roulette")


def lipswish(x: jax.Array) -> jax.Array:
    """``x sigmoid(x) / 1.1``: swish has Lipschitz constant about 1.0998, so this is 1-Lipschitz."""
    return x * jax.nn.sigmoid(x) / 1.1


def _normalize(v):
    return v / (jnp.linalg.norm(v) + 1e-12)


def spectral_norm_estimate(w: jax.Array, u0: jax.Array, iters: int) -> jax.Array:
    """Largest singular value of ``w [in, out]`` by ``iters`` power iterations from ``u0 [out]``.

    The singular vectors are treated as constants (``stop_gradient``), so the gradient is that of
    ``v^T w u``, as in Miyato et al. (2018). The estimate never exceeds the true value.
    """
    wc = jax.lax.stop_gradient(w)

    def body(_, u):
        return _normalize(wc.T @ _normalize(wc @ u))

    u = jax.lax.fori_loop(0, iters, body, _normalize(u0))
    v = jax.lax.stop_gradient(_normalize(wc @ u))
    return v @ w @ jax.lax.stop_gradient(u)


def mlp_apply(layers: Sequence[tuple[jax.Array, jax.Array]], x: jax.Array) -> jax.Array:
    """``g(x)``: LipSwish between affine layers ``(kernel [in, out], bias [out])``."""
    for w, b in layers[:-1]:
        x = lipswish(x @ w + b)
    w, b = layers[-1]
    return x @ w + b


def logdet_exact(g: Callable, x: jax.Array) -> jax.Array:
    """``log|det(I + J_g(x_i))|`` for every row of ``x [B, D]`` (g maps rows independently)."""
    jac = jax.vmap(jax.jacfwd(lambda v: g(v[None])[0]))(x)
    return jnp.linalg.slogdet(jnp.eye(x.shape[-1], dtype=x.dtype) + jac)[1]


def _traces(g: Callable, x: jax.Array, v: jax.Array, terms: int) -> jax.Array:
    """``[terms, B]``: ``v_i^T J_g(x_i)^k v_i`` for ``k = 1..terms`` by repeated JVPs."""
    _, jvp = jax.linearize(g, x)

    def body(w, _):
        w = jvp(w)
        return w, jnp.sum(v * w, axis=-1)

    _, tr = jax.lax.scan(body, v, None, length=terms)
    return tr


def _series_coefficients(terms: int, dtype) -> jax.Array:
    k = jnp.arange(1, terms + 1, dtype=dtype)
    return jnp.where(k % 2 == 1, 1.0, -1.0) / k


def logdet_series(g: Callable, x: jax.Array, key: jax.Array, terms: int) -> jax.Array:
    """Truncated power series with a Hutchinson trace estimate (one Rademacher probe per example)."""
    v = jax.random.rademacher(key, x.shape, x.dtype)
    return jnp.sum(_series_coefficients(terms, x.dtype)[:, None] * _traces(g, x, v, terms), axis=0)


def logdet_roulette(g: Callable, x: jax.Array, key: jax.Array, *, terms: int, p: float, exact_terms: int) -> jax.Array:
    """Russian-roulette estimate of Residual Flows (see the module docstring); one ``N`` per example."""
    k_probe, k_n = jax.random.split(key)
    v = jax.random.rademacher(k_probe, x.shape, x.dtype)
    extra = jax.random.geometric(k_n, p, x.shape[:1]) - 1  # {0, 1, ...}, P(extra >= j) = (1-p)^j
    n = exact_terms + extra
    k = jnp.arange(1, terms + 1)
    survive = jnp.power(1.0 - p, jnp.maximum(k - exact_terms, 0).astype(x.dtype))  # P(N >= k)
    weights = (k[:, None] <= n[None, :]) / survive[:, None]
    coeffs = _series_coefficients(terms, x.dtype)[:, None] * weights
    return jnp.sum(coeffs * _traces(g, x, v, terms), axis=0)


class ResidualBlock(Bijector):
    """``inverse``: ``x = y + g(y)`` (explicit); ``forward``: fixed-point solve. Vector events.

    Attributes:
      hidden: widths of g's hidden layers.
      lipschitz: bound on each normalised weight's spectral norm (``Lip(g) <= lipschitz^L``).
      power_iters: power iterations per call (from a fixed random start stored in ``constants``).
      logdet: ``"exact"``, ``"series"`` or ``"roulette"`` (module docstring).
      terms: series terms (``series``) or the cap on terms (``roulette``).
      roulette_p: the geometric distribution's parameter.
      exact_terms: terms the roulette estimator always computes.
      inverse_iters, inverse_tol: fixed-point iteration limits of ``forward``.
    """

    hidden: Sequence[int] = (64, 64)
    lipschitz: float = 0.9
    power_iters: int = 10
    logdet: str = "exact"
    terms: int = 10
    roulette_p: float = 0.5
    exact_terms: int = 2
    inverse_iters: int = 200
    inverse_tol: float = 1e-6

    def __post_init__(self):
        if self.logdet not in LOGDET_METHODS:
            raise ValueError(f"logdet must be one of {LOGDET_METHODS}, got {self.logdet!r}")
        if not 0 < self.lipschitz < 1:
            raise ValueError(f"lipschitz must be in (0, 1), got {self.lipschitz}")
        super().__post_init__()

    @nn.compact
    def layers(self, dim: int) -> list[tuple[jax.Array, jax.Array]]:
        """The spectrally normalised ``(kernel, bias)`` of every layer of g."""
        widths = (*self.hidden, dim)
        out, fan_in = [], dim
        for i, width in enumerate(widths):
            w = self.param(f"kernel_{i}", nn.initializers.lecun_normal(), (fan_in, width))
            b = self.param(f"bias_{i}", nn.initializers.zeros, (width,))
            u0 = self.variable(CONSTANTS, f"u_{i}", lambda w=width: jax.random.normal(self.make_rng("params"), (w,)))
            sigma = spectral_norm_estimate(w, jax.lax.stop_gradient(u0.value), self.power_iters)
            out.append((w * jnp.minimum(1.0, self.lipschitz / sigma), b))
            fan_in = width
        return out

    def residual(self, x: jax.Array) -> jax.Array:
        """``g(x)`` for ``x [B, D]``."""
        return mlp_apply(self.layers(x.shape[-1]), x)

    def _log_det(self, g, y):
        if self.logdet == "exact":
            return logdet_exact(g, y)
        if not self.has_rng(LOGDET_RNG):
            raise ValueError(f"the {self.logdet!r} log-det estimator is random: pass a key (rngs={{'logdet': key}})")
        key = self.make_rng(LOGDET_RNG)
        if self.logdet == "series":
            return logdet_series(g, y, key, self.terms)
        return logdet_roulette(g, y, key, terms=self.terms, p=self.roulette_p, exact_terms=self.exact_terms)

    def inverse_and_log_det(self, y, cond=None):
        layers = self.layers(y.shape[-1])
        g = lambda v: mlp_apply(layers, v)  # noqa: E731
        return y + g(y), self._log_det(g, y)

    def forward_and_log_det(self, x, cond=None):
        layers = self.layers(x.shape[-1])
        g = lambda v: mlp_apply(layers, v)  # noqa: E731
        y = fixed_point_inverse(g, x, self.inverse_iters, self.inverse_tol)
        return y, -self._log_det(g, y)


def fixed_point_inverse(g: Callable, x: jax.Array, max_iters: int, tol: float) -> jax.Array:
    """Solves ``y + g(y) = x`` by ``y <- x - g(y)`` from ``y = x``, until the largest change is
    below ``tol`` or after ``max_iters`` iterations."""

    def cond_fn(state):
        i, _, delta = state
        return (i < max_iters) & (delta > tol)

    def body(state):
        i, y, _ = state
        new = x - g(y)
        return i + 1, new, jnp.max(jnp.abs(new - y))

    _, y, _ = jax.lax.while_loop(cond_fn, body, (0, x, jnp.asarray(jnp.inf, x.dtype)))
    return y
