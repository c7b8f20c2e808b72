"""Multi-layer perceptrons and time/label embeddings shared by every family."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "silu": nn.silu,
    "swish": nn.silu,
    "relu": nn.relu,
    "gelu": nn.gelu,
    "tanh": jnp.tanh,
    "softplus": nn.softplus,
    "elu": nn.elu,
    "leaky_relu": nn.leaky_relu,
}


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}") from None


class MLP(nn.Module):
    """``x -> Dense -> act -> ... -> Dense(out_dim)``.

    Attributes:
      hidden: widths of the hidden layers.
      out_dim: output width.
      activation: name in ``ACTIVATIONS``.
      zero_init_last: start the last layer at zero (identity-at-init couplings, residual nets).
    """

    hidden: Sequence[int]
    out_dim: int
    activation: str = "silu"
    zero_init_last: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        last_init = nn.initializers.zeros if self.zero_init_last else nn.initializers.lecun_normal()
        return nn.Dense(self.out_dim, kernel_init=last_init)(x)


def sinusoidal_embedding(t: jax.Array, dim: int, max_period: float = 10_000.0) -> jax.Array:
    """Transformer-style features of a scalar time.

    Args:
      t: ``[batch]`` or ``[]`` times (any scale; diffusion uses ``1000 * t`` for t in [0, 1]).
      dim: even number of features.

    Returns:
      ``[*t.shape, dim]``: ``[cos(t w_k), sin(t w_k)]`` with ``w_k`` geometric from 1 to 1/max_period.
    """
    if dim % 2:
        raise ValueError(f"embedding dim must be even, got {dim}")
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = jnp.asarray(t, jnp.float32)[..., None] * freqs
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


class TimeEmbedding(nn.Module):
    """Sinusoidal features of ``t * scale`` followed by a small MLP (as in DDPM / score_sde)."""

    dim: int = 64
    scale: float = 1000.0
    activation: str = "silu"

    @nn.compact
    def __call__(self, t: jax.Array) -> jax.Array:
        emb = sinusoidal_embedding(t * self.scale, self.dim)
        return MLP((self.dim,), self.dim, activation=self.activation)(emb)


class TimeMLP(nn.Module):
    """An MLP on ``(x, t[, label])``: velocity, score and noise predictors for vector data.

    Time (and an optional class label, where ``num_classes`` reserves one extra "null" id for
    classifier-free guidance) enters through an embedding concatenated to the input and added
    to every hidden layer, which trains faster than concatenation alone on 2-D toy data.
    Examples of any shape are flattened on the way in and reshaped on the way out.

    Call: ``(x [batch, *event], t [batch], label [batch] | None) -> [batch, *event]``
    (or ``[batch, out_dim]`` when ``out_dim`` is set).
    """

    hidden: Sequence[int] = (256, 256, 256)
    out_dim: int | None = None
    time_dim: int = 64
    time_scale: float = 1000.0
    activation: str = "silu"
    num_classes: int | None = None

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None) -> jax.Array:
        act = get_activation(self.activation)
        batch = x.shape[0]
        flat = jnp.reshape(x, (batch, -1))
        t = jnp.broadcast_to(jnp.asarray(t, flat.dtype), (batch,))
        emb = TimeEmbedding(self.time_dim, self.time_scale, self.activation)(t)
        if self.num_classes is not None:
            if label is None:  # unconditional use of a conditional net: the null class
                label = jnp.full((batch,), self.num_classes, jnp.int32)
            emb = emb + nn.Embed(self.num_classes + 1, self.time_dim)(label)
        h = jnp.concatenate([flat, emb], axis=-1)
        for width in self.hidden:
            h = nn.Dense(width)(h) + nn.Dense(width, use_bias=False)(act(emb))
            h = act(h)
        if self.out_dim is not None:
            return nn.Dense(self.out_dim)(h)
        return jnp.reshape(nn.Dense(flat.shape[-1])(h), x.shape)
