"""Spectral regularisation by power iteration (Miyato et al. 2018; NVAE's smoothness term).

Every weight ``W`` of a network (a Linen ``kernel`` leaf: dense ``[in, out]`` or convolution
``[kh, kw, in, out]``) is read as the matrix ``[kh * kw * in, out]``; its largest singular value
is estimated as ``sigma = v^T W u`` with ``u``, ``v`` the vectors of power iteration. The
vectors persist between training steps (one iteration a step, as in NVAE), kept as a parameter
group of their own that no optimiser touches (``after_update`` advances them), so the estimate
tracks the weights as they change. The loss term is ``lambda sum_W sigma(W)``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def _normalize(v):
    return v / (jnp.linalg.norm(v) + 1e-12)


def _matrix(w: jax.Array) -> jax.Array:
    return jnp.reshape(w, (-1, w.shape[-1]))


def _is_kernel(name, leaf) -> bool:
    return name == "kernel" and getattr(leaf, "ndim", 0) >= 2


def kernels(params: Any) -> Any:
    """The nested dict of ``params`` restricted to its kernels (the weights that are regularised)."""
    if not isinstance(params, dict) and not hasattr(params, "items"):
        return None
    out = {}
    for name, value in params.items():
        if _is_kernel(name, value):
            out[name] = value
        else:
            sub = kernels(value)
            if sub:
                out[name] = sub
    return out


def power_iterate(weights: Any, u: Any, iters: int = 1) -> Any:
    """``iters`` power iterations of every weight from its right vector ``u`` (same tree)."""

    def one(w, u):
        m = jax.lax.stop_gradient(_matrix(w))
        w = m.T @ _normalize(m @ u)
        # A weight at 0 (zero-initialised layers) keeps its vector rather than losing it to 0.
        return jnp.where(jnp.linalg.norm(w) > 1e-12, _normalize(w), u)

    def step(_, u):
        return jax.tree_util.tree_map(one, weights, u)

    if iters == 1:  # the per-step update: no loop in the training program
        return step(0, u)
    # One loop over the whole tree (not one per kernel): a single program to compile, also eagerly.
    return jax.lax.fori_loop(0, iters, step, u)


def init_power_vectors(key: jax.Array, params: Any, iters: int = 10) -> Any:
    """Right singular vectors of every kernel of ``params`` after ``iters`` iterations from random starts."""
    weights = kernels(params)
    leaves, treedef = jax.tree_util.tree_flatten(weights)
    keys = jax.random.split(key, max(len(leaves), 1))
    starts = [_normalize(jax.random.normal(k, (w.shape[-1],), w.dtype)) for k, w in zip(keys, leaves)]
    return power_iterate(weights, jax.tree_util.tree_unflatten(treedef, starts), iters)


def spectral_norms(params: Any, u: Any) -> Any:
    """``sigma(W) = v^T W u`` with ``v = W u / |W u|`` for every kernel (differentiable in ``W``;
    ``u`` and ``v`` are constants). A lower bound of the top singular value, tight once ``u`` has
    converged."""

    def one(w, u0):
        m = _matrix(w)
        u0 = jax.lax.stop_gradient(u0)
        v = jax.lax.stop_gradient(_normalize(m @ u0))
        return v @ m @ u0

    return jax.tree_util.tree_map(one, kernels(params), u)


def spectral_penalty(params: Any, u: Any) -> jax.Array:
    """``sum_W sigma(W)`` over every kernel of ``params``."""
    return sum(jax.tree_util.tree_leaves(spectral_norms(params, u)), jnp.zeros(()))
