"""The Schrödinger bridge between two Gaussians in closed form (Bunne et al. 2023).

For ``N(mu0, S0)``, ``N(mu1, S1)`` and the Brownian reference ``dX = sigma dW`` on ``[0, 1]``,
the bridge's static coupling is entropic OT with ``epsilon = 2 sigma^2``: a joint Gaussian with
cross-covariance

    D = (4 S0^{1/2} S1 S0^{1/2} + sigma^4 I)^{1/2},
    C = Cov(X0, X1) = (S0^{1/2} D S0^{-1/2} - sigma^2 I) / 2,

and the bridge is the mixture of Brownian bridges over that coupling, a Gaussian Markov process
with marginals

    mu_t = (1 - t) mu0 + t mu1,
    S_t  = (1 - t)^2 S0 + t^2 S1 + t (1 - t) (C + C^T + sigma^2 I),

forward drift ``b_t(x) = E[(X1 - X_t) / (1 - t) | X_t = x]``

    b_t(x) = mu1 - mu0 + [((1 - t) C^T + t S1) S_t^{-1} - I] (x - mu_t) / (1 - t),

and backward drift ``E[(X0 - X_t) / t | X_t = x]`` (the drift of the time-reversed process,
``X_{t-h} = X_t + h b^-_t(X_t) + sigma dW``)

    b^-_t(x) = mu0 - mu1 + [(t C + (1 - t) S0) S_t^{-1} - I] (x - mu_t) / t.

The same regression with any Gaussian coupling in place of ``C`` is the Markovian projection of
that coupling's bridge mixture, which is what one outer iteration of iterative Markovian fitting
computes; ``markovian_projection_coupling`` gives the coupling of the projected process, so the
exact iterates of DSBM-IMF on Gaussian data are available as a reference.

Everything here is plain ``jax.numpy`` on matrices (``[d, d]``) and batches (``x [batch, d]``);
run it under ``jax.experimental.enable_x64`` where precision matters.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp


def _sym_sqrt(a: jax.Array) -> jax.Array:
    """The symmetric PSD square root of a symmetric PSD matrix (by eigendecomposition)."""
    w, v = jnp.linalg.eigh(0.5 * (a + a.T))
    return (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T


def _sym_inv_sqrt(a: jax.Array) -> jax.Array:
    w, v = jnp.linalg.eigh(0.5 * (a + a.T))
    return (v / jnp.sqrt(w)) @ v.T


def bures_cross_covariance(s0: jax.Array, s1: jax.Array) -> jax.Array:
    """``Cov(X0, T(X0)) = S0 T`` for the OT (Brenier) map ``T`` from ``N(., S0)`` to ``N(., S1)``.

    ``T = S0^{-1/2} (S0^{1/2} S1 S0^{1/2})^{1/2} S0^{-1/2}``, the unique symmetric positive map
    with ``T S0 T = S1``; the bridge's ``C`` tends to this as ``sigma -> 0``.
    """
    r, r_inv = _sym_sqrt(s0), _sym_inv_sqrt(s0)
    return r @ _sym_sqrt(r @ s1 @ r) @ r_inv


def _check(mu0, s0, mu1, s1):
    mu0, mu1 = jnp.atleast_1d(mu0), jnp.atleast_1d(mu1)
    s0, s1 = jnp.atleast_2d(s0), jnp.atleast_2d(s1)
    d = mu0.shape[0]
    if mu1.shape != (d,) or s0.shape != (d, d) or s1.shape != (d, d):
        raise ValueError(f"means [d] and covariances [d, d] of one d: got {mu0.shape}, {s0.shape}, "
                         f"{mu1.shape}, {s1.shape}")
    return mu0, s0, mu1, s1


@functools.partial(jax.tree_util.register_dataclass, data_fields=["mu0", "s0", "mu1", "s1", "c", "sigma"],
                   meta_fields=[])
@dataclasses.dataclass(frozen=True)
class GaussianBridge:
    """A Gaussian bridge process: endpoints ``N(mu0, S0)``, ``N(mu1, S1)``, coupling ``C``, noise ``sigma``.

    Built by ``gaussian_schrodinger_bridge`` (the Schrödinger bridge, ``C`` from the closed form)
    or directly with any cross-covariance ``C`` that makes the joint covariance PSD (the Markovian
    projection of that coupling's Brownian-bridge mixture). A pytree, so it passes through
    ``jax.jit``.

    Attributes:
      mu0, mu1: ``[d]``.
      s0, s1: ``[d, d]``.
      c: ``[d, d]``, ``Cov(X0, X1)``.
      sigma: the reference's noise level.
    """

    mu0: jax.Array
    s0: jax.Array
    mu1: jax.Array
    s1: jax.Array
    c: jax.Array
    sigma: float

    @property
    def dim(self) -> int:
        return int(self.mu0.shape[0])

    def joint_covariance(self) -> jax.Array:
        """``[2d, 2d]`` covariance of ``(X0, X1)``."""
        return jnp.block([[self.s0, self.c], [self.c.T, self.s1]])

    def joint_precision(self) -> jax.Array:
        """``[2d, 2d]`` inverse of the joint covariance; for the Schrödinger bridge its
        off-diagonal block is ``-I / sigma^2`` (the coupling's density is ``exp(f(x0) + g(x1) -
        |x0 - x1|^2 / (2 sigma^2))``)."""
        return jnp.linalg.inv(self.joint_covariance())

    def mean(self, t) -> jax.Array:
        """``mu_t [d]``."""
        return (1.0 - t) * self.mu0 + t * self.mu1

    def cov(self, t) -> jax.Array:
        """``S_t [d, d]``."""
        eye = jnp.eye(self.dim, dtype=self.s0.dtype)
        return ((1.0 - t) ** 2 * self.s0 + t**2 * self.s1
                + t * (1.0 - t) * (self.c + self.c.T + self.sigma**2 * eye))

    def forward_gain(self, t) -> tuple[jax.Array, jax.Array]:
        """``(A [d, d], a [d])`` with ``b_t(x) = A x + a``, for ``t`` in ``[0, 1)``."""
        eye = jnp.eye(self.dim, dtype=self.s0.dtype)
        k = ((1.0 - t) * self.c.T + t * self.s1) @ jnp.linalg.inv(self.cov(t))
        gain = (k - eye) / (1.0 - t)
        return gain, self.mu1 - self.mu0 - gain @ self.mean(t)

    def backward_gain(self, t) -> tuple[jax.Array, jax.Array]:
        """``(A [d, d], a [d])`` with ``b^-_t(x) = A x + a``, for ``t`` in ``(0, 1]``."""
        eye = jnp.eye(self.dim, dtype=self.s0.dtype)
        k = (t * self.c + (1.0 - t) * self.s0) @ jnp.linalg.inv(self.cov(t))
        gain = (k - eye) / t
        return gain, self.mu0 - self.mu1 - gain @ self.mean(t)

    def forward_drift(self, t, x: jax.Array) -> jax.Array:
        """``b_t(x)`` for ``x [batch, d]`` and scalar ``t``: ``[batch, d]``."""
        gain, offset = self.forward_gain(t)
        return x @ gain.T + offset

    def backward_drift(self, t, x: jax.Array) -> jax.Array:
        """``b^-_t(x)`` for ``x [batch, d]`` and scalar ``t``: ``[batch, d]``."""
        gain, offset = self.backward_gain(t)
        return x @ gain.T + offset

    def score(self, t, x: jax.Array) -> jax.Array:
        """``grad log p_t(x) = -S_t^{-1} (x - mu_t)``: ``[batch, d]``."""
        return -(x - self.mean(t)) @ jnp.linalg.inv(self.cov(t)).T

    def sample_coupling(self, key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
        """``num`` draws of ``(X0, X1)`` from the static coupling: two ``[num, d]`` arrays."""
        joint = self.joint_covariance()
        chol = jnp.linalg.cholesky(joint + 1e-12 * jnp.eye(2 * self.dim, dtype=joint.dtype))
        z = jax.random.normal(key, (num, 2 * self.dim), dtype=joint.dtype)
        xy = jnp.concatenate([self.mu0, self.mu1]) + z @ chol.T
        return xy[:, : self.dim], xy[:, self.dim :]


def schrodinger_cross_covariance(s0: jax.Array, s1: jax.Array, sigma) -> jax.Array:
    """The Schrödinger bridge's ``C = Cov(X0, X1)`` ``[d, d]`` for covariances ``S0``, ``S1``."""
    s0, s1 = jnp.atleast_2d(s0), jnp.atleast_2d(s1)
    eye = jnp.eye(s0.shape[0], dtype=s0.dtype)
    r, r_inv = _sym_sqrt(s0), _sym_inv_sqrt(s0)
    d = _sym_sqrt(4.0 * r @ s1 @ r + sigma**4 * eye)
    return 0.5 * (r @ d @ r_inv - sigma**2 * eye)


def gaussian_schrodinger_bridge(mu0, s0, mu1, s1, sigma) -> GaussianBridge:
    """The Schrödinger bridge from ``N(mu0, S0)`` to ``N(mu1, S1)`` under ``dX = sigma dW``.

    Args:
      mu0, mu1: ``[d]`` means (scalars for ``d = 1``).
      s0, s1: ``[d, d]`` positive definite covariances.
      sigma: reference noise, ``> 0`` (``sigma -> 0`` approaches the OT map's coupling).

    Returns:
      The ``GaussianBridge`` with the closed-form ``C``.
    """
    mu0, s0, mu1, s1 = _check(mu0, s0, mu1, s1)
    return GaussianBridge(mu0, s0, mu1, s1, schrodinger_cross_covariance(s0, s1, sigma), sigma)


def markovian_projection_coupling(bridge: GaussianBridge, steps: int = 4000) -> jax.Array:
    """``Cov(X0, X1)`` ``[d, d]`` of the Markovian projection of ``bridge``'s Brownian-bridge mixture.

    The projection is the SDE ``dX = b_t(X) dt + sigma dW`` from ``N(mu0, S0)`` with the
    regression drift of ``bridge`` (``forward_drift``, linear in x). Its marginals are those of the
    mixture (``S_t``) but its coupling differs unless the mixture was already Markov:
    ``G_t = Cov(X_t, X0)`` solves ``dG/dt = A_t G``, ``G_0 = S0``, integrated here on ``steps``
    intervals by the implicit midpoint rule (second order; ``A_t`` is smooth on ``[0, 1]`` and is
    evaluated at the midpoints only, never at the removable singularity ``t = 1``).
    Iterating ``C <- markovian_projection_coupling(GaussianBridge(..., C, ...))`` from ``C = 0``
    is iterative Markovian fitting from the independent coupling, in closed form; the
    Schrödinger bridge's ``C`` is its fixed point.
    """
    h = 1.0 / steps
    mids = (jnp.arange(steps, dtype=bridge.s0.dtype) + 0.5) * h

    eye = jnp.eye(bridge.dim, dtype=bridge.s0.dtype)

    def body(g, t):
        gain, _ = bridge.forward_gain(t)
        # (I - h A / 2) G_{t+h} = (I + h A / 2) G_t
        return jnp.linalg.solve(eye - 0.5 * h * gain, (eye + 0.5 * h * gain) @ g), None

    g1, _ = jax.lax.scan(body, bridge.s0, mids)
    return g1.T


def euler_maruyama_moments(bridge: GaussianBridge, steps: int) -> tuple[jax.Array, jax.Array]:
    """``(Cov(X_1), Cov(X_0, X_1))`` ``[d, d]`` of Euler-Maruyama on ``steps`` steps of the forward drift.

    The chain ``X_{k+1} = X_k + h b_{t_k}(X_k) + sigma sqrt(h) Z_k`` from ``N(mu0, S0)`` with
    ``t_k = k h`` (what ``genjax.ode.sdeint`` computes) is linear-Gaussian, so its moments follow
    exactly: ``V <- (I + h A) V (I + h A)^T + sigma^2 h I`` and ``G <- (I + h A) G``. The gap to
    ``(S1, C)`` is the time discretisation alone (first order in ``h``): what a model that learned
    the drift exactly would show when sampled on ``steps`` steps.
    """
    h = 1.0 / steps
    eye = jnp.eye(bridge.dim, dtype=bridge.s0.dtype)

    def body(carry, t):
        v, g = carry
        gain, _ = bridge.forward_gain(t)
        m = eye + h * gain
        return (m @ v @ m.T + bridge.sigma**2 * h * eye, m @ g), None

    ts = jnp.arange(steps, dtype=bridge.s0.dtype) * h
    (v, g), _ = jax.lax.scan(body, (bridge.s0, bridge.s0), ts)
    return v, g.T
