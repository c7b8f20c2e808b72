"""Exact optimal transport between sample sets: the 2-Wasserstein distance and the OT pairing.

Everything here runs on the host in float64 numpy: exact OT is a combinatorial problem
(``scipy.optimize.linear_sum_assignment``), not a traced computation, and the cost matrix is
small enough for the sample sizes W2 is used with (a few thousand points).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import eigh
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from genjax.errors import DataError

# Unequal sample sizes are solved exactly by repeating every point of each set so both have
# lcm(n, m) points; beyond this many the dense assignment problem gets too slow and large.
MAX_REPLICATED_POINTS = 4096


def _as_point_sets(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validates two sample sets and flattens their events.

    Args:
      x: ``[n, *event_shape]`` (``[n]`` means scalar events).
      y: ``[m, *event_shape]``.

    Returns:
      ``x`` as float64 ``[n, d]`` and ``y`` as float64 ``[m, d]``, ``d = prod(event_shape)``.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for name, a in (("x", x), ("y", y)):
        if a.ndim == 0 or a.shape[0] == 0:
            raise DataError(f"{name} must be a non-empty set of samples [num, *event_shape], "
                            f"got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise DataError(f"{name} contains NaN or inf values; W2 is undefined for them "
                            "(check the model for divergence before evaluating it)")
    if x.shape[1:] != y.shape[1:]:
        raise DataError(f"x and y must have the same event shape, got x {x.shape} and "
                        f"y {y.shape} (the leading axis is the number of samples)")
    return x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)


def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # cdist sums squared differences directly (no |x|^2 + |y|^2 - 2xy expansion), so a point
    # paired with itself costs exactly 0 and W2(x, x) is exactly 0.
    return cdist(x, y, "sqeuclidean")


def ot_pairing(x, y) -> np.ndarray:
    """The exact optimal transport pairing of two equally sized sample sets.

    Minimises ``sum_i |x[i] - y[perm[i]]|^2`` over permutations ``perm``: the minibatch-OT
    coupling of flow matching and the matching behind ``w2``.

    Args:
      x: ``[n, *event_shape]``.
      y: ``[n, *event_shape]``.

    Returns:
      perm: int ``[n]``, a permutation such that ``x[i]`` is paired with ``y[perm[i]]``.

    Raises:
      DataError: on different sizes or event shapes, or non-finite values.
    """
    x, y = _as_point_sets(x, y)
    if x.shape[0] != y.shape[0]:
        raise DataError(f"ot_pairing needs sets of equal size to form a permutation, got "
                        f"{x.shape[0]} and {y.shape[0]} samples")
    _, perm = linear_sum_assignment(_squared_distances(x, y))
    return perm


def _mean_transport_cost(cost: np.ndarray) -> float:
    """The optimal mean cost of moving uniform mass on the rows to uniform mass on the columns.

    Args:
      cost: ``[n, m]`` pairwise costs.
    """
    n, m = cost.shape
    if n == m:
        rows, cols = linear_sum_assignment(cost)
        return float(cost[rows, cols].mean())
    try:
        import ot  # POT: a network simplex solver for any sizes, used when it is installed.
    except ImportError:
        ot = None
    if ot is not None:
        return float(ot.emd2(np.full(n, 1.0 / n), np.full(m, 1.0 / m), cost))
    # With integer marginals (lcm/n per row, lcm/m per column) the transport polytope has
    # integer vertices, so an optimal plan is an assignment between repeated points.
    size = math.lcm(n, m)
    if size > MAX_REPLICATED_POINTS:
        raise DataError(
            f"exact W2 between {n} and {m} samples needs lcm({n}, {m}) = {size} repeated points "
            f"(at most {MAX_REPLICATED_POINTS} without POT): draw equally many samples or "
            "`pip install pot`")
    expanded = np.repeat(np.repeat(cost, size // n, axis=0), size // m, axis=1)
    rows, cols = linear_sum_assignment(expanded)
    return float(expanded[rows, cols].mean())


def w2(x, y) -> float:
    """The 2-Wasserstein distance between two empirical distributions, by exact OT.

    Each set is a uniform distribution over its samples; events are flattened to vectors and
    compared in Euclidean distance. Equal sizes are solved as an assignment problem; unequal
    sizes as a transport problem (POT when installed, otherwise exactly by repeating points,
    which needs ``lcm(n, m) <= MAX_REPLICATED_POINTS``).

    The empirical W2 between two finite samples of the *same* distribution is not 0: it
    shrinks slowly with the sample size (like ``n^(-1/d)`` in ``d >= 3`` dimensions), so
    compare a model's W2 against that of a second data sample of the same size.

    Args:
      x: ``[n, *event_shape]``.
      y: ``[m, *event_shape]``.

    Returns:
      ``sqrt(min over couplings of E |x - y|^2)`` as a Python float.

    Raises:
      DataError: on different event shapes, empty sets, non-finite values, or unequal sizes
        too large to solve without POT.
    """
    x, y = _as_point_sets(x, y)
    return math.sqrt(max(_mean_transport_cost(_squared_distances(x, y)), 0.0))


def gaussian_w2(mean1, cov1, mean2, cov2) -> float:
    """The closed-form 2-Wasserstein distance between two Gaussians.

    ``W2^2 = |m1 - m2|^2 + tr(C1 + C2 - 2 (C2^1/2 C1 C2^1/2)^1/2)`` (the Bures metric on the
    covariances). The matrix square roots are taken through symmetric eigendecompositions,
    which stay real and accurate for positive semi-definite, even singular, covariances.

    Args:
      mean1: ``[d]`` (or a scalar for ``d = 1``).
      cov1: ``[d, d]`` positive semi-definite (or a scalar variance for ``d = 1``).
      mean2: ``[d]``.
      cov2: ``[d, d]``.

    Returns:
      W2 as a Python float.
    """
    mean1, mean2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mean1, mean2))
    cov1, cov2 = (np.atleast_2d(np.asarray(c, dtype=np.float64)) for c in (cov1, cov2))
    d = mean1.shape[0]
    if {mean1.shape, mean2.shape} != {(d,)} or {cov1.shape, cov2.shape} != {(d, d)}:
        raise DataError(f"expected means [d] and covariances [d, d] of one d, got "
                        f"{mean1.shape}, {cov1.shape}, {mean2.shape}, {cov2.shape}")
    evals2, evecs2 = eigh(cov2)
    sqrt_cov2 = (evecs2 * np.sqrt(np.clip(evals2, 0.0, None))) @ evecs2.T
    cross = sqrt_cov2 @ cov1 @ sqrt_cov2
    # Symmetrise away rounding so the eigenvalues are those of a symmetric PSD matrix.
    cross = eigh(0.5 * (cross + cross.T), eigvals_only=True)
    bures = np.trace(cov1) + np.trace(cov2) - 2.0 * np.sqrt(np.clip(cross, 0.0, None)).sum()
    return math.sqrt(max(float(np.sum((mean1 - mean2) ** 2) + bures), 0.0))
