"""MADE: a masked MLP whose output for input ``i`` depends only on the inputs before ``i``
(Germain et al. 2015), the conditioner of MAF and IAF."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genjax.nn.mlp import get_activation


def made_degrees(dim: int, hidden: Sequence[int], order: Sequence[int] | None = None) -> list[np.ndarray]:
    """Degrees of the input and hidden units.

    Input ``i`` has degree ``order[i]`` (a permutation of ``1..dim``; default ``1..dim``); hidden
    units cycle through ``1..dim-1`` (all 0 when ``dim == 1``: they see no input).
    """
    inputs = np.arange(1, dim + 1) if order is None else np.asarray(order)
    if sorted(inputs.tolist()) != list(range(1, dim + 1)):
        raise ValueError(f"order must be a permutation of 1..{dim}, got {list(inputs)}")
    degrees = [inputs]
    for width in hidden:
        degrees.append(np.arange(width) % max(1, dim - 1) + min(1, dim - 1))
    return degrees


def made_masks(dim: int, hidden: Sequence[int], num_params: int, order=None) -> list[np.ndarray]:
    """``[in, out]`` 0/1 masks of every layer; the output layer has ``dim * num_params`` units laid
    out ``[dim, num_params]`` (unit ``(i, p)`` has the degree of input ``i``)."""
    degrees = made_degrees(dim, hidden, order)
    masks = [(d_out[None, :] >= d_in[:, None]).astype(np.float32) for d_in, d_out in zip(degrees[:-1], degrees[1:])]
    out_degrees = np.repeat(degrees[0], num_params)
    masks.append((out_degrees[None, :] > degrees[-1][:, None]).astype(np.float32))
    return masks


class MaskedDense(nn.Module):
    features: int
    mask: np.ndarray  # [in, out]
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return x @ (kernel * jnp.asarray(self.mask, kernel.dtype)) + bias


class MADE(nn.Module):
    """``(x [batch, dim], cond [batch, k] | None) -> [batch, dim, num_params]`` autoregressive.

    ``out[:, i]`` depends only on ``x[:, j]`` with ``order[j] < order[i]`` (and on all of
    ``cond``, which enters the first hidden layer unmasked). The last layer starts at zero
    (``zero_init_last``) so a MAF/IAF layer starts at the identity.
    """

    hidden: Sequence[int]
    num_params: int
    activation: str = "relu"
    order: Sequence[int] | None = None
    zero_init_last: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        dim = x.shape[-1]
        act = get_activation(self.activation)
        masks = made_masks(dim, self.hidden, self.num_params, self.order)
        h = x
        for i, (width, mask) in enumerate(zip(self.hidden, masks[:-1])):
            h = MaskedDense(width, mask)(h)
            if i == 0 and cond is not None:
                h = h + nn.Dense(width, use_bias=False)(jnp.reshape(cond, (cond.shape[0], -1)))
            h = act(h)
        last_init = nn.initializers.zeros if self.zero_init_last else nn.initializers.lecun_normal()
        out = MaskedDense(dim * self.num_params, masks[-1], kernel_init=last_init)(h)
        return jnp.reshape(out, (x.shape[0], dim, self.num_params))
