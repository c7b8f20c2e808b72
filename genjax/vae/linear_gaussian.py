"""Probabilistic PCA: the linear-Gaussian latent-variable model in closed form (Tipping & Bishop 1999).

``z ~ N(0, I_d)``, ``x | z ~ N(W z + mu, s2 I_D)``, so ``x ~ N(mu, C)`` with ``C = W W^T + s2 I``
and the posterior is ``N(m(x), Lambda^-1)`` with precision ``Lambda = W^T W / s2 + I`` and mean
``m(x) = Lambda^-1 W^T (x - mu) / s2``. Every quantity a VAE estimates has a closed form here:
the marginal likelihood, the posterior, the ELBO of any diagonal-Gaussian posterior, the gap of
the best mean-field posterior, and the maximum-likelihood fit. They are the reference the VAE
code is tested against.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from genjax.vae.bounds import gaussian_kl

LOG_2PI = math.log(2 * math.pi)


def marginal_covariance(w, s2):
    return w @ w.T + s2 * jnp.eye(w.shape[0], dtype=w.dtype)


def log_marginal(x, w, mu, s2):
    """``log N(x; mu, W W^T + s2 I)`` of every row of ``x [batch, D]``: ``[batch]``."""
    c = marginal_covariance(w, s2)
    chol = jnp.linalg.cholesky(c)
    r = jnp.linalg.solve(chol, (x - mu).T)  # [D, batch]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
    return -0.5 * (jnp.sum(r**2, axis=0) + logdet + x.shape[-1] * LOG_2PI)


def posterior_precision(w, s2):
    """``Lambda = W^T W / s2 + I`` ``[d, d]``."""
    return w.T @ w / s2 + jnp.eye(w.shape[1], dtype=w.dtype)


def posterior(x, w, mu, s2):
    """``(mean [batch, d], covariance [d, d])`` of ``p(z | x)``."""
    lam = posterior_precision(w, s2)
    cov = jnp.linalg.inv(lam)
    return (x - mu) @ w @ cov.T / s2, cov


def mean_field_gap(w, s2):
    """``log p(x) - ELBO`` of the best diagonal posterior, ``N(m(x), diag(1 / Lambda_ii))``:
    ``0.5 (sum_i log Lambda_ii - log det Lambda)`` (the same for every ``x``)."""
    lam = posterior_precision(w, s2)
    return 0.5 * (jnp.sum(jnp.log(jnp.diag(lam))) - jnp.linalg.slogdet(lam)[1])


def elbo(x, w, mu, s2, q_mean, q_log_std):
    """The ELBO of the diagonal posterior ``N(q_mean, diag(exp(q_log_std)^2))``, exactly: ``[batch]``.

    ``E_q[log N(x; W z + mu, s2 I)] = log N(x; W m + mu, s2 I) - tr(W diag(v) W^T) / (2 s2)``
    minus the analytic ``KL(q || N(0, I))``.
    """
    var = jnp.exp(2.0 * q_log_std)
    resid = x - q_mean @ w.T - mu
    d = x.shape[-1]
    expected = -0.5 * (jnp.sum(resid**2, axis=-1) / s2 + d * (LOG_2PI + jnp.log(s2)))
    expected = expected - 0.5 * jnp.sum(var * jnp.sum(w**2, axis=0), axis=-1) / s2
    return expected - jnp.sum(gaussian_kl(q_mean, q_log_std), axis=-1)


def maximum_likelihood(x: np.ndarray, latent_dim: int) -> dict:
    """Tipping & Bishop's closed-form maximum-likelihood pPCA fit of ``x [N, D]``.

    ``mu`` is the sample mean; with the eigenvalues ``l_1 >= ... >= l_D`` of the sample covariance
    ``S`` (divided by N) and their eigenvectors ``U``, ``s2 = mean(l_{d+1..D})`` and
    ``W = U_d (L_d - s2 I)^{1/2}`` (up to a rotation). The maximised log-likelihood per example is
    ``-0.5 (D log 2 pi + log det C + tr(C^-1 S))``.

    Returns:
      ``{"w" [D, d], "mu" [D], "s2", "log_likelihood"}`` (the mean over examples, in nats).
    """
    x = np.asarray(x, np.float64)
    n, dim = x.shape
    mu = x.mean(axis=0)
    s = (x - mu).T @ (x - mu) / n
    evals, evecs = np.linalg.eigh(s)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    s2 = float(evals[latent_dim:].mean())
    w = evecs[:, :latent_dim] * np.sqrt(np.maximum(evals[:latent_dim] - s2, 0.0))
    c = w @ w.T + s2 * np.eye(dim)
    ll = -0.5 * (dim * LOG_2PI + np.linalg.slogdet(c)[1] + np.trace(np.linalg.solve(c, s)))
    return {"w": w, "mu": mu, "s2": s2, "log_likelihood": float(ll)}
