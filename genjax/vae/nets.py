"""Networks of the VAE family: residual cells of the hierarchical VAE and its building blocks.

Images (NVAE, Vahdat & Kautz 2020): the encoder cell is ``x + 0.1 SE(conv3x3(act(conv3x3(act(x)))))``
and the decoder cell the inverted bottleneck
``x + 0.1 SE(conv1x1(act(dwconv5x5(act(conv1x1_expand(x))))))`` with a depthwise-separable
convolution; both end with squeeze-and-excitation (Hu et al. 2018). Vectors use ``MLPCell``,
``x + 0.1 Dense(act(Dense_expand(act(x))))``. No batch norm: every network here is a pure
function of its parameters.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nn import get_activation

RESIDUAL_SCALE = 0.1  # NVAE scales every residual branch by 0.1


class SqueezeExcite(nn.Module):
    """``x * sigmoid(W2 relu(W1 mean_hw(x)))`` over the channels of ``[batch, H, W, C]`` (or
    ``[batch, C]``: the mean over no spatial axes is ``x`` itself)."""

    reduction: int = 4

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        s = jnp.mean(x, axis=tuple(range(1, x.ndim - 1))) if x.ndim > 2 else x
        s = nn.relu(nn.Dense(max(c // self.reduction, 4))(s))
        s = jax.nn.sigmoid(nn.Dense(c)(s))
        return x * jnp.reshape(s, (x.shape[0],) + (1,) * (x.ndim - 2) + (c,))


class EncoderCell(nn.Module):
    """The bottom-up residual cell for images: two 3x3 convolutions and SE."""

    activation: str = "silu"
    se_reduction: int = 4

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        c = x.shape[-1]
        h = nn.Conv(c, (3, 3), padding="SAME")(act(x))
        h = nn.Conv(c, (3, 3), padding="SAME")(act(h))
        return x + RESIDUAL_SCALE * SqueezeExcite(self.se_reduction)(h)


class DecoderCell(nn.Module):
    """The top-down residual cell for images: 1x1 expansion, depthwise ``kernel x kernel``
    convolution, 1x1 projection (a depthwise-separable convolution) and SE."""

    expand: int = 3
    kernel: int = 5
    activation: str = "silu"
    se_reduction: int = 4

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        c = x.shape[-1]
        e = self.expand * c
        h = act(nn.Conv(e, (1, 1))(x))
        h = act(nn.Conv(e, (self.kernel, self.kernel), padding="SAME", feature_group_count=e)(h))
        h = nn.Conv(c, (1, 1))(h)
        return x + RESIDUAL_SCALE * SqueezeExcite(self.se_reduction)(h)


class MLPCell(nn.Module):
    """The residual cell for vectors: ``x + 0.1 Dense(act(Dense(expand * width)(act(x))))``."""

    expand: int = 2
    activation: str = "silu"

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        h = nn.Dense(self.expand * x.shape[-1])(act(x))
        return x + RESIDUAL_SCALE * nn.Dense(x.shape[-1])(act(h))


def upsample(x: jax.Array) -> jax.Array:
    """Nearest-neighbour 2x upsampling of ``[batch, H, W, C]``."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
