"""Convolutional networks for image couplings: Glow's three-layer net and a small ResNet."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nn.mlp import get_activation


class GlowConvNet(nn.Module):
    """``conv3x3(hidden) -> act -> conv1x1(hidden) -> act -> conv3x3(out)``, NHWC (Kingma & Dhariwal 2018).

    The last convolution starts at zero (``zero_init_last``) so the coupling it drives starts at
    the identity.
    """

    hidden: int
    out_channels: int
    activation: str = "relu"
    zero_init_last: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        h = act(nn.Conv(self.hidden, (3, 3), padding="SAME")(x))
        h = act(nn.Conv(self.hidden, (1, 1))(h))
        last_init = nn.initializers.zeros if self.zero_init_last else nn.initializers.lecun_normal()
        return nn.Conv(self.out_channels, (3, 3), padding="SAME", kernel_init=last_init)(h)


class ResNetBlock(nn.Module):
    """``x + conv3x3(act(conv3x3(act(x))))`` with a constant width."""

    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        c = x.shape[-1]
        h = nn.Conv(c, (3, 3), padding="SAME")(act(x))
        h = nn.Conv(c, (3, 3), padding="SAME")(act(h))
        return x + h


class ConvResNet(nn.Module):
    """``conv3x3(hidden) -> num_blocks ResNet blocks -> act -> conv3x3(out)`` (RealNVP's coupling net)."""

    hidden: int
    out_channels: int
    num_blocks: int = 2
    activation: str = "relu"
    zero_init_last: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Conv(self.hidden, (3, 3), padding="SAME")(x)
        for _ in range(self.num_blocks):
            h = ResNetBlock(self.activation)(h)
        h = get_activation(self.activation)(h)
        last_init = nn.initializers.zeros if self.zero_init_last else nn.initializers.lecun_normal()
        return nn.Conv(self.out_channels, (3, 3), padding="SAME", kernel_init=last_init)(h)


def broadcast_cond(h: jax.Array, cond: jax.Array | None) -> jax.Array:
    """Concatenates a per-example ``cond [batch, k]`` to every position of ``h [batch, H, W, C]``."""
    if cond is None:
        return h
    c = jnp.reshape(cond, (cond.shape[0], 1, 1, -1))
    return jnp.concatenate([h, jnp.broadcast_to(c, (*h.shape[:-1], c.shape[-1]))], axis=-1)
