"""The Bijector contract and its composition: ``Chain``, ``Invert``, ``Repeat``, ``Reshape``.

A bijector is a Linen module with two paired methods over a batch ``[batch, *event]``:

    y, log_det = bij.apply(variables, x, method="forward_and_log_det")   # base -> data
    x, log_det = bij.apply(variables, y, method="inverse_and_log_det")   # data -> base

``log_det`` is ``log|det dy/dx|`` (resp. ``log|det dx/dy|``) of each example, shape ``[batch]``.
Plain ``forward`` / ``inverse`` are derived from them. Conditional bijectors read ``cond``
(``[batch, ...]``); every other bijector accepts and ignores it, so a ``Chain`` passes it to all.

Variables live in two collections: ``params`` (trained) and ``constants`` (fixed after
initialisation: permutations, signs, power-iteration start vectors). Constants are read through
``stop_gradient`` and stored as floats whose meaning is unchanged by any positive rescaling (a
permutation is the ``argsort`` of float keys, a sign is ``jnp.sign`` of a float), so an optimiser
run over the whole variables tree leaves them intact: their gradient is exactly zero, which gives a
zero Adam / SGD / LAMB step, and decoupled weight decay only rescales them.

Calling a bijector (``__call__``) runs the *normalizing* direction, ``inverse_and_log_det``. So
``bij.init(key, data)`` initialises on data, which is what data-dependent layers (``ActNorm``)
need: their statistics are taken on the data side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

CONSTANTS = "constants"
# Rng stream of stochastic log-determinant estimators (residual flows).
LOGDET_RNG = "logdet"


def sum_except_batch(x: jax.Array) -> jax.Array:
    """``[batch, ...] -> [batch]``."""
    return jnp.sum(jnp.reshape(x, (x.shape[0], -1)), axis=-1)


def zeros_log_det(x: jax.Array) -> jax.Array:
    return jnp.zeros(x.shape[:1], x.dtype)


class Bijector(nn.Module):
    """Base class. Subclasses implement ``forward_and_log_det`` and ``inverse_and_log_det``."""

    def forward_and_log_det(self, x: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """``x [batch, *event]`` (base side) -> ``(y [batch, *event'], log|det dy/dx| [batch])``."""
        raise NotImplementedError

    def inverse_and_log_det(self, y: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """``y [batch, *event']`` (data side) -> ``(x [batch, *event], log|det dx/dy| [batch])``."""
        raise NotImplementedError

    def forward(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        return self.forward_and_log_det(x, cond)[0]

    def inverse(self, y: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        return self.inverse_and_log_det(y, cond)[0]

    def __call__(self, y: jax.Array, cond: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """The normalizing direction (data -> base), so that ``init(key, data)`` sees data."""
        return self.inverse_and_log_det(y, cond)


class Identity(Bijector):
    def forward_and_log_det(self, x, cond=None):
        return x, zeros_log_det(x)

    def inverse_and_log_det(self, y, cond=None):
        return y, zeros_log_det(y)


class Chain(Bijector):
    """Composition. ``forward`` applies ``layers[0]`` first (the base side) and ``layers[-1]`` last
    (the data side); ``inverse`` runs them in the opposite order."""

    layers: Sequence[Bijector]

    def forward_and_log_det(self, x, cond=None):
        total = zeros_log_det(x)
        for layer in self.layers:
            x, ld = layer.forward_and_log_det(x, cond)
            total = total + ld
        return x, total

    def inverse_and_log_det(self, y, cond=None):
        total = zeros_log_det(y)
        for layer in reversed(self.layers):
            y, ld = layer.inverse_and_log_det(y, cond)
            total = total + ld
        return y, total


class Invert(Bijector):
    """Swaps the two directions of ``bijector``."""

    bijector: Bijector

    def forward_and_log_det(self, x, cond=None):
        return self.bijector.inverse_and_log_det(x, cond)

    def inverse_and_log_det(self, y, cond=None):
        return self.bijector.forward_and_log_det(y, cond)


class Repeat(Bijector):
    """``num`` copies of ``layer``, each with its own variables, stacked on a leading axis.

    Runs as one ``nn.scan`` (the inverse with ``reverse=True``), so the program holds one copy of
    the layer whatever ``num`` is and compile time does not grow with depth. Copy ``i`` is the
    ``i``-th from the base side. ``layer`` must keep the event shape. Variables of copy ``i`` are
    ``variables[...]["layer"][leaf][i]``; rngs (init and the ``logdet`` stream) are split per copy.
    """

    layer: Bijector
    num: int

    def _run(self, method: str, x, cond, reverse: bool):
        def body(module, h, c):
            return getattr(module, method)(h, c)

        scan = nn.scan(
            body,
            variable_axes={"params": 0, CONSTANTS: 0},
            split_rngs={"params": True, LOGDET_RNG: True},
            in_axes=nn.broadcast,
            length=self.num,
            reverse=reverse,
        )
        y, log_dets = scan(self.layer, x, cond)
        return y, jnp.sum(log_dets, axis=0)

    def forward_and_log_det(self, x, cond=None):
        return self._run("forward_and_log_det", x, cond, reverse=False)

    def inverse_and_log_det(self, y, cond=None):
        return self._run("inverse_and_log_det", y, cond, reverse=True)


class Reshape(Bijector):
    """``[batch, *in_shape]`` (base side) <-> ``[batch, *out_shape]`` (data side); log-det 0."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    def __post_init__(self):
        if math.prod(self.in_shape) != math.prod(self.out_shape):
            raise ValueError(f"cannot reshape {self.in_shape} to {self.out_shape}")
        super().__post_init__()

    def forward_and_log_det(self, x, cond=None):
        return jnp.reshape(x, (x.shape[0], *self.out_shape)), zeros_log_det(x)

    def inverse_and_log_det(self, y, cond=None):
        return jnp.reshape(y, (y.shape[0], *self.in_shape)), zeros_log_det(y)
