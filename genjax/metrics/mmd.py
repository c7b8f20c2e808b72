"""Maximum mean discrepancy with a sum of RBF kernels, in jax.numpy (jittable).

Memory is ``O(n * m)``: the three kernel matrices are formed whole, which is a few tens of MB
for 2000 x 2000 samples in float32.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

# Length scales of the default kernel, as multiples of the median x-y distance: a spread over
# two decades keeps the test sensitive both to local detail and to coarse shifts of mass.
DEFAULT_BANDWIDTH_MULTIPLES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
    """``[n, d], [m, d] -> [n, m]`` squared Euclidean distances."""
    sq = jnp.sum(a**2, -1)[:, None] + jnp.sum(b**2, -1)[None, :] - 2.0 * a @ b.T
    return jnp.maximum(sq, 0.0)  # the expansion can round to tiny negatives


def _kernel(sq_dist: jax.Array, bandwidths: jax.Array) -> jax.Array:
    """``[n, m], [k] -> [n, m]``: ``sum_s exp(-|a - b|^2 / (2 s^2))`` over the bandwidths."""
    return jnp.sum(jnp.exp(-sq_dist[..., None] / (2.0 * bandwidths**2)), axis=-1)


@functools.partial(jax.jit, static_argnames=("unbiased",))
def mmd(x, y, bandwidths=None, unbiased: bool = True) -> jax.Array:
    """The squared maximum mean discrepancy MMD^2 between two sample sets.

    The kernel is ``k(a, b) = sum_s exp(-|a - b|^2 / (2 s^2))`` over the length scales
    ``s in bandwidths``, with events flattened to vectors. By default the length scales are
    ``DEFAULT_BANDWIDTH_MULTIPLES`` times the median distance between the points of ``x`` and
    of ``y`` (the median heuristic), so the value does not depend on the units of the data.
    With several kernels summed, ``k(a, a) = len(bandwidths)`` and MMD^2 lies in
    ``[0, 2 * len(bandwidths)]`` (the biased estimate; the unbiased one can dip below 0).

    Args:
      x: ``[n, *event_shape]``, ``n >= 2``.
      y: ``[m, *event_shape]``, ``m >= 2``.
      bandwidths: ``[k]`` kernel length scales, or ``None`` for the median heuristic.
      unbiased: True for the U-statistic (diagonal terms of the within-set sums left out; zero
        mean when ``x`` and ``y`` come from one distribution, so it can be slightly negative),
        False for the V-statistic (biased upwards, always ``>= 0``, exactly 0 when ``x == y``).

    Returns:
      MMD^2 (squared, not its square root) as a scalar array.
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    # Integer or half-precision inputs are computed in (at least) float32.
    dtype = jnp.promote_types(jnp.result_type(x, y), jnp.float32)
    x, y = x.astype(dtype), y.astype(dtype)
    if x.ndim == 0 or y.ndim == 0 or x.shape[1:] != y.shape[1:]:
        raise ValueError(f"x and y must be [num, *event_shape] with one event shape, got "
                         f"x {x.shape} and y {y.shape}")
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"MMD needs at least 2 samples per set, got {n} and {m}")
    x, y = x.reshape(n, -1), y.reshape(m, -1)
    # Centring on a shared point changes no distance but limits cancellation in the expansion.
    centre = 0.5 * (x.mean(0) + y.mean(0))
    x, y = x - centre, y - centre
    sq_xx, sq_yy = _squared_distances(x, x), _squared_distances(y, y)
    sq_xy = _squared_distances(x, y)
    if bandwidths is None:
        median = jnp.median(jnp.sqrt(sq_xy))
        median = jnp.where(median > 0, median, 1.0)  # identical point masses: any scale works
        bandwidths = median * jnp.asarray(DEFAULT_BANDWIDTH_MULTIPLES, dtype=x.dtype)
    bandwidths = jnp.atleast_1d(jnp.asarray(bandwidths, dtype=x.dtype))
    k_xx, k_yy, k_xy = (_kernel(sq, bandwidths) for sq in (sq_xx, sq_yy, sq_xy))
    if unbiased:
        within_x = (k_xx.sum() - jnp.trace(k_xx)) / (n * (n - 1))
        within_y = (k_yy.sum() - jnp.trace(k_yy)) / (m * (m - 1))
    else:
        within_x, within_y = k_xx.mean(), k_yy.mean()
    return within_x + within_y - 2.0 * k_xy.mean()
