"""Mode coverage of samples from a mixture of isotropic Gaussians (the GAN literature's 2-D grids).

A sample is *high quality* when it lies within ``num_std`` standard deviations (Euclidean
distance) of its nearest mode; a mode is *covered* when at least ``min_share`` of its fair share
``n / K`` of the samples are high-quality samples nearest to it. With the defaults (3 std, a
fifth of the share) this is the criterion of VEEGAN / PacGAN (20 of 2500 samples per mode of
25); draws from the data itself are high quality with probability ``1 - exp(-9/2) = 0.989`` in
two dimensions and cover every mode.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import cdist

from genjax.errors import DataError


def mode_coverage(samples, centers, std: float, *, num_std: float = 3.0, min_share: float = 0.2) -> dict[str, float]:
    """Modes covered and the fraction of high-quality samples.

    Args:
      samples: ``[n, D]``.
      centers: ``[K, D]`` the mixture's component means.
      std: the components' common standard deviation.
      num_std: a sample within ``num_std * std`` of a mode is high quality.
      min_share: a mode is covered by at least ``ceil(min_share * n / K)`` high-quality samples.

    Returns:
      ``{"modes_covered": covered modes (of K), "high_quality": fraction of samples,
      "mode_kl": KL(high-quality mode histogram || uniform) in nats (0 when perfectly balanced;
      log K when every high-quality sample falls on one mode, inf when there are none)}``.
    """
    x = np.asarray(samples, np.float64)
    c = np.asarray(centers, np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise DataError(f"mode_coverage needs samples [n, D] and centers [K, D], got {x.shape} and {c.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError("samples contain NaN or inf values; mode coverage is undefined for them")
    dist = cdist(x, c)
    nearest = np.argmin(dist, axis=1)
    good = dist[np.arange(len(x)), nearest] <= num_std * std
    counts = np.bincount(nearest[good], minlength=len(c))
    need = math.ceil(min_share * len(x) / len(c))
    total = counts.sum()
    if total:
        p = counts[counts > 0] / total
        kl = float(np.sum(p * np.log(p * len(c))))
    else:
        kl = float("inf")
    return {"modes_covered": float(np.sum(counts >= need)), "high_quality": float(good.mean()), "mode_kl": kl}
