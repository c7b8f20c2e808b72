"""A small DDPM-style UNet for images, conditioned on time and (optionally) a class label.

The layout of Ho et al. (2020) in miniature: a 3x3 stem, ``len(channel_mult)`` resolution
levels of ``num_res_blocks`` residual blocks (GroupNorm, SiLU, 3x3 convs, the time/label
embedding added between the convs), self-attention at the levels in ``attention_levels``, strided
3x3 convs down and nearest-neighbour resizes up to the skip connection's size (so odd sizes
such as 28 -> 14 -> 7 work), and a zero-initialised output conv (the network starts at 0).

Call: ``(x [batch, H, W, C], t [batch], label [batch] | None, cond [batch, K] | None) ->
[batch, H, W, C]``. With ``num_classes`` set, label id ``num_classes`` is the null class
(classifier-free guidance) and ``label=None`` means it. ``cond``, any per-example vector (a
GAN generator's latent), is mapped by a dense layer and added to the time embedding, so it
reaches every residual block as the time does.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nn.mlp import TimeEmbedding


def _groups(channels: int, groups: int) -> int:
    """The largest divisor of ``channels`` that is at most ``groups``."""
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return g


class ResBlock(nn.Module):
    """``x + conv(silu(norm(conv(silu(norm(x))) + dense(emb))))``, with a 1x1 skip when widths differ."""

    channels: int
    groups: int = 8

    @nn.compact
    def __call__(self, x: jax.Array, emb: jax.Array) -> jax.Array:
        h = nn.silu(nn.GroupNorm(_groups(x.shape[-1], self.groups))(x))
        h = nn.Conv(self.channels, (3, 3))(h)
        h = h + nn.Dense(self.channels)(nn.silu(emb))[:, None, None, :]
        h = nn.silu(nn.GroupNorm(_groups(self.channels, self.groups))(h))
        h = nn.Conv(self.channels, (3, 3), kernel_init=nn.initializers.zeros)(h)
        if x.shape[-1] != self.channels:
            x = nn.Conv(self.channels, (1, 1))(x)
        return x + h


class AttentionBlock(nn.Module):
    """Single-head self-attention over the pixels, residual, zero-initialised output."""

    groups: int = 8

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, hgt, wid, c = x.shape
        h = nn.GroupNorm(_groups(c, self.groups))(x).reshape(b, hgt * wid, c)
        q, k, v = jnp.split(nn.Dense(3 * c)(h), 3, axis=-1)
        w = jax.nn.softmax(jnp.einsum("bic,bjc->bij", q, k) / jnp.sqrt(c).astype(x.dtype), axis=-1)
        out = nn.Dense(c, kernel_init=nn.initializers.zeros)(jnp.einsum("bij,bjc->bic", w, v))
        return x + out.reshape(b, hgt, wid, c)


class UNet(nn.Module):
    """Time- and label-conditioned UNet.

    Attributes:
      channels: width of the first level.
      channel_mult: width multiplier of each level (one downsampling between levels).
      num_res_blocks: residual blocks per level on the way down (one more on the way up).
      attention_levels: indices of the levels with self-attention after each block.
      num_classes: number of labels (an extra null id is reserved), or None.
      time_scale: the embedding sees ``t * time_scale`` (1000 for ``t`` in [0, 1]).
      groups: GroupNorm groups (reduced to a divisor of the width when needed).
    """

    channels: int = 64
    channel_mult: Sequence[int] = (1, 2, 2)
    num_res_blocks: int = 2
    attention_levels: Sequence[int] = (1,)
    num_classes: int | None = None
    time_scale: float = 1000.0
    groups: int = 8

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None,
                 cond: jax.Array | None = None) -> jax.Array:
        batch = x.shape[0]
        emb_dim = 4 * self.channels
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), (batch,))
        emb = TimeEmbedding(emb_dim, self.time_scale)(t)
        if self.num_classes is not None:
            if label is None:
                label = jnp.full((batch,), self.num_classes, jnp.int32)
            emb = emb + nn.Embed(self.num_classes + 1, emb_dim)(label)
        if cond is not None:
            emb = emb + nn.Dense(emb_dim)(cond)

        h = nn.Conv(self.channels, (3, 3))(x)
        skips = [h]
        for level, mult in enumerate(self.channel_mult):
            for _ in range(self.num_res_blocks):
                h = ResBlock(self.channels * mult, self.groups)(h, emb)
                if level in self.attention_levels:
                    h = AttentionBlock(self.groups)(h)
                skips.append(h)
            if level < len(self.channel_mult) - 1:
                h = nn.Conv(h.shape[-1], (3, 3), strides=(2, 2))(h)
                skips.append(h)

        h = ResBlock(h.shape[-1], self.groups)(h, emb)
        h = AttentionBlock(self.groups)(h)
        h = ResBlock(h.shape[-1], self.groups)(h, emb)

        for level in reversed(range(len(self.channel_mult))):
            for _ in range(self.num_res_blocks + 1):
                h = ResBlock(self.channels * self.channel_mult[level], self.groups)(
                    jnp.concatenate([h, skips.pop()], axis=-1), emb)
                if level in self.attention_levels:
                    h = AttentionBlock(self.groups)(h)
            if level > 0:
                target = skips[-1].shape
                h = jax.image.resize(h, (batch, target[1], target[2], h.shape[-1]), "nearest")
                h = nn.Conv(h.shape[-1], (3, 3))(h)

        h = nn.silu(nn.GroupNorm(_groups(h.shape[-1], self.groups))(h))
        return nn.Conv(x.shape[-1], (3, 3), kernel_init=nn.initializers.zeros)(h)
