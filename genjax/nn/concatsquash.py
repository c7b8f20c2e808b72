"""FFJORD's time-conditioned ``ConcatSquash`` layers (Grathwohl et al., 2019, appendix).

A ``ConcatSquashDense`` layer is ``(W x + b) * sigmoid(g t + c) + h t``: time gates each
output feature and shifts it, at the cost of three small vectors per layer. A stack of them
with a nonlinearity between layers (no nonlinearity after the last) is FFJORD's ``ODEnet``
for vector data.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nn.mlp import get_activation


class ConcatSquashDense(nn.Module):
    """``(x [..., d_in], t) -> (W x + b) * sigmoid(g t + c) + h t``, shape ``[..., features]``.

    ``t`` is a scalar (one time for the whole batch, as inside an ODE solve: the gate and the
    shift are then computed once) or has the leading shape of ``x`` without the feature axis.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array) -> jax.Array:
        t = jnp.asarray(t, x.dtype)[..., None]  # [..., 1]
        gate = nn.sigmoid(nn.Dense(self.features, name="gate")(t))
        shift = nn.Dense(self.features, use_bias=False, name="shift")(t)
        return nn.Dense(self.features, name="linear")(x) * gate + shift


class ConcatSquashMLP(nn.Module):
    """A stack of ``ConcatSquashDense`` layers: the vector field ``f(x, t)`` of a CNF.

    Attributes:
      hidden: widths of the hidden layers (FFJORD's toy default is ``(64, 64, 64)``).
      out_dim: output width; ``None`` returns the input's width (a vector field).
      activation: name in ``genjax.nn.ACTIVATIONS`` between layers (FFJORD: ``tanh``).

    Call: ``(x [..., d], t) -> [..., out_dim or d]``. Rows of ``x`` are processed independently,
    so the Jacobian of the output with respect to one row involves that row only.
    """

    hidden: Sequence[int] = (64, 64, 64)
    out_dim: int | None = None
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        h = x
        for width in self.hidden:
            h = act(ConcatSquashDense(width)(h, t))
        return ConcatSquashDense(self.out_dim or x.shape[-1])(h, t)
