"""Variational bounds: analytic Gaussian KLs, the importance-weighted bound, and the KL schedules.

With an encoder ``q(z | x)`` and a generative model ``p(x, z) = p(z) p(x | z)``:

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))                           (K = 1)
    IWAE_K(x) = E[log (1/K) sum_k w_k],   w_k = p(x, z_k) / q(z_k | x),  z_k ~ q  (Burda et al. 2016)

``IWAE_1 = ELBO <= IWAE_K <= IWAE_{K+1} <= log p(x)`` in expectation, and ``IWAE_K -> log p(x)``
as ``K -> infinity`` when the weights are bounded. Both are sums over the dimensions of ``x`` and
``z`` (never means over pixels, which would rescale the bound).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp


def gaussian_kl(mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """``KL(N(mean, exp(log_std)^2) || N(0, 1))`` elementwise (same shape as ``mean``)."""
    return 0.5 * (mean**2 + jnp.exp(2.0 * log_std) - 1.0) - log_std


def gaussian_kl_residual(delta_mean: jax.Array, delta_log_std: jax.Array, prior_log_std: jax.Array) -> jax.Array:
    """``KL(q || p)`` elementwise for ``p = N(mu, s^2)`` and the residual ``q = N(mu + dmu, (s e^dl)^2)``.

    ``0.5 ((dmu / s)^2 + e^(2 dl) - 1) - dl`` (NVAE's parameterisation: it depends on the prior
    only through its scale, and is 0 at ``dmu = dl = 0`` exactly).
    """
    return 0.5 * ((delta_mean * jnp.exp(-prior_log_std)) ** 2 + jnp.exp(2.0 * delta_log_std) - 1.0) - delta_log_std


def sum_per_example(x: jax.Array) -> jax.Array:
    """``[batch, ...] -> [batch]``: the sum over everything but the first axis."""
    return jnp.sum(jnp.reshape(x, (x.shape[0], -1)), axis=-1)


def importance_weighted_bound(log_weight: Callable[[jax.Array], jax.Array], key: jax.Array, num_samples: int,
                              chunk_size: int | None = None) -> jax.Array:
    """``log (1/K) sum_k exp(log_weight(key_k))`` for every row, ``K = num_samples``: ``[batch]``.

    ``log_weight(key) -> [batch]`` is one draw ``z ~ q(z | x)`` and its ``log p(x, z) - log q(z | x)``
    for each row. It is vmapped over ``chunk_size`` keys at a time and the chunks are folded into
    a running logsumexp inside a ``lax.scan``, so memory holds one chunk whatever ``K`` is. The
    keys do not depend on the chunk size: the bound is the same for every ``chunk_size``.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    chunk = min(chunk_size or num_samples, num_samples)
    num_chunks = -(-num_samples // chunk)
    # Draw k's key is fold_in(key, k), whatever the chunking.
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num_chunks * chunk)).reshape(num_chunks, chunk)
    valid = (jnp.arange(num_chunks * chunk) < num_samples).reshape(num_chunks, chunk)

    def chunk_lse(chunk_keys, chunk_valid):
        lw = jax.vmap(log_weight)(chunk_keys)  # [chunk, batch]
        lw = jnp.where(chunk_valid[:, None], lw, -jnp.inf)
        return jax.nn.logsumexp(lw, axis=0)

    if num_chunks == 1:
        total = chunk_lse(keys[0], valid[0])
    else:
        def body(acc, inputs):
            return jnp.logaddexp(acc, chunk_lse(*inputs)), None

        first = chunk_lse(keys[0], valid[0])
        total, _ = jax.lax.scan(body, first, (keys[1:], valid[1:]))
    return total - math.log(num_samples)


def kl_weight(step, warmup_steps: int) -> jax.Array:
    """The KL coefficient of KL warm-up: ``min(1, step / warmup_steps)`` (1 without warm-up or step)."""
    if warmup_steps <= 0 or step is None:
        return jnp.asarray(1.0, jnp.float32)
    return jnp.minimum(1.0, jnp.asarray(step, jnp.float32) / warmup_steps)


def free_bits_kl(kl: jax.Array, free_bits: float, units) -> jax.Array:
    """The KL of each group as the free-bits loss sees it (Kingma et al. 2016): ``max(lambda u_j, mean_batch KL_j)``.

    Args:
      kl: ``[batch, groups]``: the KL of each group of latents (a dimension, or a set of them).
      free_bits: ``lambda``, nats per latent dimension below which a group's KL is not penalised
        (its gradient is then 0); 0 leaves the batch means as they are.
      units: ``u_j``, the latent dimensions of each group (``groups`` numbers).

    Returns:
      ``[groups]``, whose sum is the loss's KL term.
    """
    per_group = jnp.mean(kl, axis=0)
    if free_bits <= 0:
        return per_group
    return jnp.maximum(per_group, free_bits * jnp.asarray(units, kl.dtype))


def kl_balance_coefficients(kl_groups: jax.Array, group_sizes, beta: jax.Array) -> jax.Array:
    """NVAE's KL balancing coefficients ``gamma_l`` (Vahdat & Kautz 2020), constants of the loss.

    While the KL is warming up (``beta < 1``) group ``l``'s KL is weighted by
    ``gamma_l ∝ (mean_batch KL_l + 0.01) / alpha_l`` (``alpha_l ∝`` the group's size), normalised
    to mean 1: groups that carry little information are penalised less, so they are not switched
    off before the warm-up ends. After it, ``gamma_l = 1``.

    Args:
      kl_groups: ``[batch, L]`` KL of each group.
      group_sizes: the latent dimensions of each group, ``L`` numbers.
      beta: the warm-up coefficient.

    Returns:
      ``[L]`` coefficients (gradients stopped).
    """
    alpha = jnp.asarray(group_sizes, kl_groups.dtype)
    alpha = alpha / jnp.mean(alpha)
    gamma = (jnp.mean(jnp.abs(kl_groups), axis=0) + 0.01) / alpha
    gamma = gamma / jnp.mean(gamma)
    gamma = jnp.where(beta < 1.0, gamma, jnp.ones_like(gamma))
    return jax.lax.stop_gradient(gamma)


def active_units(posterior_means: jax.Array, threshold: float = 0.01) -> jax.Array:
    """Burda et al.'s active units: ``Cov_x(E_q[z | x])_jj > threshold``, counted.

    Args:
      posterior_means: ``[examples, latent_dims]``: ``E_q[z | x]`` of each held-out example.

    Returns:
      The number of latent dimensions whose posterior mean varies with ``x`` (an int array).
    """
    return jnp.sum(jnp.var(posterior_means, axis=0) > threshold)
