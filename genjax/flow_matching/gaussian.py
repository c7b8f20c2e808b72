"""Closed-form marginal velocity of an affine path between Gaussians (a reference for tests).

For ``x0 ~ N(0, I)`` and ``x1 ~ N(m, S)`` independent, ``x_t = alpha x1 + sigma x0`` and the
conditional velocity ``u = d_alpha x1 + d_sigma x0`` are jointly Gaussian, with

    E[x_t] = alpha m,            Cov[x_t]      = Sigma_t = alpha^2 S + sigma^2 I,
    E[u]   = d_alpha m,          Cov[u, x_t]   = alpha d_alpha S + sigma d_sigma I,

so the marginal velocity (the minimiser of the flow matching loss) is the linear regression

    v_t(x) = E[u | x_t = x] = d_alpha m + (alpha d_alpha S + sigma d_sigma I) Sigma_t^{-1} (x - alpha m).

Its flow is linear, so it carries N(0, I) to ``N(alpha_t m, Sigma_t)`` at every t: the mean
obeys ``dmu/dt = v_t(mu)`` and the covariance ``dC/dt = A_t C + C A_t^T`` with
``A_t = (alpha d_alpha S + sigma d_sigma I) Sigma_t^{-1}``.
"""

from __future__ import annotations

import jax.numpy as jnp

from genjax.flow_matching.paths import AffinePath


def gaussian_marginal_velocity(path: AffinePath, x, t, mean, cov):
    """``v_t(x)`` for ``x [batch, d]``, scalar ``t``, target ``N(mean [d], cov [d, d])``."""
    gain, offset = gaussian_velocity_gain(path, t, mean, cov)
    return x @ gain.T + offset


def gaussian_velocity_gain(path: AffinePath, t, mean, cov):
    """``(A_t [d, d], c_t [d])`` with ``v_t(x) = A_t x + c_t``."""
    alpha, sigma, d_alpha, d_sigma = path.coefficients(jnp.asarray(t, cov.dtype))
    eye = jnp.eye(mean.shape[0], dtype=cov.dtype)
    gain = (alpha * d_alpha * cov + sigma * d_sigma * eye) @ jnp.linalg.inv(alpha**2 * cov + sigma**2 * eye)
    return gain, d_alpha * mean - alpha * gain @ mean
