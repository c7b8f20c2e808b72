"""Fixed permutations of the last axis (features, or channels of an image): log-det 0."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.bijectors.base import CONSTANTS, Bijector, zeros_log_det


def permutation_from_keys(keys: jax.Array) -> jax.Array:
    """The permutation stored as float ``keys``: their argsort (unchanged by positive rescaling)."""
    return jnp.argsort(jax.lax.stop_gradient(keys))


def keys_for_permutation(perm: jax.Array) -> jax.Array:
    """Positive float keys whose argsort is ``perm``."""
    return 1.0 + jnp.argsort(perm).astype(jnp.float32)


class Reverse(Bijector):
    """Reverses the order of the last axis."""

    def forward_and_log_det(self, x, cond=None):
        return jnp.flip(x, axis=-1), zeros_log_det(x)

    def inverse_and_log_det(self, y, cond=None):
        return jnp.flip(y, axis=-1), zeros_log_det(y)


class Permute(Bijector):
    """A given permutation of the last axis: ``y[..., i] = x[..., perm[i]]``."""

    perm: Sequence[int]

    def forward_and_log_det(self, x, cond=None):
        return x[..., jnp.asarray(self.perm)], zeros_log_det(x)

    def inverse_and_log_det(self, y, cond=None):
        return y[..., jnp.argsort(jnp.asarray(self.perm))], zeros_log_det(y)


class RandomPermutation(Bijector):
    """A uniformly random permutation of the last axis, drawn at ``init`` and fixed afterwards.

    Stored in the ``constants`` collection as float keys (see ``genjax.bijectors.base``); each
    copy inside a ``Repeat`` draws its own.
    """

    @nn.compact
    def permutation(self, size: int) -> jax.Array:
        keys = self.variable(
            CONSTANTS, "keys", lambda: keys_for_permutation(jax.random.permutation(self.make_rng("params"), size))
        )
        return permutation_from_keys(keys.value)

    def forward_and_log_det(self, x, cond=None):
        return x[..., self.permutation(x.shape[-1])], zeros_log_det(x)

    def inverse_and_log_det(self, y, cond=None):
        return y[..., jnp.argsort(self.permutation(y.shape[-1]))], zeros_log_det(y)
