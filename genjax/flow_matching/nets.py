"""Velocity networks specific to flow matching (the shared ``TimeMLP`` lives in ``genjax.nn``).

All are called as ``net(x [batch, *event], t [batch], label [batch] | None) -> [batch, *event]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nn import ACTIVATIONS, sinusoidal_embedding

NET_ACTIVATIONS = {**ACTIVATIONS, "selu": nn.selu}


class ConcatMLP(nn.Module):
    """An MLP on ``[x, t]`` (time appended as one raw input), the 2-D net of torchcfm's examples.

    With ``hidden=(64, 64, 64)`` and ``activation="selu"`` it has exactly the layers of
    ``torchcfm.models.MLP(dim, w=64, time_varying=True)``: ``Dense_i`` kernels are the
    transposed torch weights, so trained torch weights load into it one to one. With
    ``num_classes`` a learned label embedding (``num_classes + 1`` ids, the last one "null") is
    appended to the input too.
    """

    hidden: Sequence[int] = (64, 64, 64)
    activation: str = "selu"
    num_classes: int | None = None
    label_dim: int = 16

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None) -> jax.Array:
        act = NET_ACTIVATIONS[self.activation]
        batch = x.shape[0]
        flat = jnp.reshape(x, (batch, -1))
        t = jnp.broadcast_to(jnp.asarray(t, flat.dtype), (batch,))
        parts = [flat, t[:, None]]
        if self.num_classes is not None:
            if label is None:
                label = jnp.full((batch,), self.num_classes, jnp.int32)
            parts.append(nn.Embed(self.num_classes + 1, self.label_dim)(label))
        h = jnp.concatenate(parts, axis=-1)
        for width in self.hidden:
            h = act(nn.Dense(width)(h))
        return jnp.reshape(nn.Dense(flat.shape[-1])(h), x.shape)


class LinearVelocity(nn.Module):
    """``v(x, t) = A(t) x + b(t)``: linear in x, with ``A`` and ``b`` an MLP of time features.

    The exact family of marginal velocities between Gaussians (see ``gaussian_marginal_velocity``),
    so a flow matching fit of it can be checked against the closed form.
    """

    hidden: Sequence[int] = (32,)
    time_dim: int = 16

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None) -> jax.Array:
        del label
        batch = x.shape[0]
        flat = jnp.reshape(x, (batch, -1))
        d = flat.shape[-1]
        t = jnp.broadcast_to(jnp.asarray(t, flat.dtype), (batch,))
        # Frequencies 1 ... 1/10 over t in [0, 1]: smooth features of time.
        h = sinusoidal_embedding(t, self.time_dim, max_period=10.0)
        for width in self.hidden:
            h = nn.silu(nn.Dense(width)(h))
        coef = nn.Dense(d * d + d, kernel_init=nn.initializers.zeros)(h)
        a = jnp.reshape(coef[:, : d * d], (batch, d, d))
        b = coef[:, d * d :]
        return jnp.reshape(jnp.einsum("bij,bj->bi", a, flat) + b, x.shape)


NETS = ("time_mlp", "concat_mlp", "linear")
