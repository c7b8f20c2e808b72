"""Negative log-likelihoods in nats, discrete NLL bounds and bits per dimension.

The functions take a scalar or an array of per-example NLLs (Python floats, numpy or jax
arrays alike) and apply elementwise; average over examples before or after, as the report
needs (the two orders agree, the conversions being affine).

Derivation of the discrete bound. Dequantized data are ``x = scale * (v + u) + shift`` with
``v`` integer-valued and ``u ~ U[0, 1)^D``. A continuous density ``p_x`` gives the discrete
value ``v`` the probability of its bin,

    P(v) = integral over the bin of v of p_x(x) dx
         = scale^D * E_u[p_x(scale * (v + u) + shift)],

and by Jensen's inequality (``-log`` is convex)

    -log P(v) <= E_u[-log p_x(x)] - D * log(scale).

So the continuous NLL plus ``D * dequantization.nats_offset_per_dim`` nats (``-log scale`` per
dimension) bounds the discrete NLL. For 8-bit data mapped to ``[0, 1)`` the scale is ``1/256``
and the offset is ``D * log 256`` nats, i.e. 8 bits/dim; mapped to ``[-1, 1)`` the scale is
``2/256``, the offset ``D * log 128`` nats, and the density of ``x`` is ``2^D`` times smaller,
so the uniform model scores 8 bits/dim on both.
"""

from __future__ import annotations

import math
import numbers

from genjax.data.base import Dequantization

LN2 = math.log(2.0)


def nats_to_bits(nats):
    """Converts nats to bits: ``nats / ln 2``. Works elementwise on arrays."""
    return nats / LN2


def _check_num_dims(num_dims: int) -> None:
    is_int = isinstance(num_dims, numbers.Integral) and not isinstance(num_dims, bool)
    if not is_int or num_dims <= 0:
        raise ValueError(f"num_dims must be a positive int (the number of values per example), "
                         f"got {num_dims!r}")


def discrete_nll(nll_nats, num_dims: int, dequantization: Dequantization):
    """The upper bound on the discrete NLL from a continuous NLL of dequantized data.

    Args:
      nll_nats: scalar or ``[batch]``: ``-log p_x(x)`` of the continuous values, in nats per
        example (an expectation over the dequantization noise ``u`` makes it a bound on
        ``-log P(v)``; a single draw of ``u`` is an unbiased estimate of that bound).
      num_dims: ``D``, the number of values per example (e.g. ``28 * 28 * 1``).
      dequantization: how the continuous values were made from the discrete ones.

    Returns:
      ``nll_nats + D * dequantization.nats_offset_per_dim``, in nats, same shape as ``nll_nats``.
    """
    _check_num_dims(num_dims)
    return nll_nats + num_dims * dequantization.nats_offset_per_dim


def bits_per_dim(nll_nats, num_dims: int, dequantization: Dequantization | None = None):
    """Bits per dimension of a per-example NLL in nats.

    Args:
      nll_nats: scalar or ``[batch]`` NLL in nats per example.
      num_dims: ``D``, the number of values per example.
      dequantization: when given, the NLL is of dequantized discrete data and is first turned
        into the discrete NLL bound (``discrete_nll``), the number image models report; when
        ``None`` the continuous NLL is converted as it is.

    Returns:
      ``nll / (D * ln 2)``, same shape as ``nll_nats``.
    """
    _check_num_dims(num_dims)
    if dequantization is not None:
        nll_nats = discrete_nll(nll_nats, num_dims, dequantization)
    return nats_to_bits(nll_nats) / num_dims
