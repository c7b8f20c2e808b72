"""Multi-scale image flows (RealNVP, Glow): squeeze and factor-out.

Shapes are NHWC. ``Squeeze`` trades space for channels; ``FactorOut`` sends half of the channels
straight to the base and the other half through a deeper flow. Every level of
``multiscale`` ends where it started (``[H, W, C]``), so the base distribution has the data's
shape and the factored-out variables sit in the base at their level's positions.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from genjax.bijectors.base import Bijector, Chain, Invert, zeros_log_det


def squeeze(x):
    """``[B, H, W, C] -> [B, H/2, W/2, 4C]``: each 2x2 patch becomes 4 channels."""
    b, h, w, c = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"squeeze needs even height and width, got {x.shape[1:]}")
    x = jnp.reshape(x, (b, h // 2, 2, w // 2, 2, c))
    return jnp.reshape(jnp.transpose(x, (0, 1, 3, 2, 4, 5)), (b, h // 2, w // 2, 4 * c))


def unsqueeze(x):
    """Inverse of ``squeeze``."""
    b, h, w, c4 = x.shape
    c = c4 // 4
    x = jnp.reshape(x, (b, h, w, 2, 2, c))
    return jnp.reshape(jnp.transpose(x, (0, 1, 3, 2, 4, 5)), (b, 2 * h, 2 * w, c))


class Squeeze(Bijector):
    """``forward``: ``[H, W, C] -> [H/2, W/2, 4C]`` (space to depth); a permutation, log-det 0."""

    def forward_and_log_det(self, x, cond=None):
        return squeeze(x), zeros_log_det(x)

    def inverse_and_log_det(self, y, cond=None):
        return unsqueeze(y), zeros_log_det(y)


class FactorOut(Bijector):
    """The first half of the channels passes unchanged (to the base); ``inner`` maps the second half.

    ``[B, ..., C]`` with ``C`` even; ``inner`` keeps the shape ``[B, ..., C/2]``.
    """

    inner: Bijector

    def _split(self, x):
        c = x.shape[-1]
        if c % 2:
            raise ValueError(f"factor-out needs an even number of channels, got {c}")
        return x[..., : c // 2], x[..., c // 2 :]

    def forward_and_log_det(self, x, cond=None):
        kept, rest = self._split(x)
        rest, ld = self.inner.forward_and_log_det(rest, cond)
        return jnp.concatenate([kept, rest], axis=-1), ld

    def inverse_and_log_det(self, y, cond=None):
        kept, rest = self._split(y)
        rest, ld = self.inner.inverse_and_log_det(rest, cond)
        return jnp.concatenate([kept, rest], axis=-1), ld


def multiscale(levels: list[tuple[nn.Module | None, nn.Module]]) -> Bijector:
    """A multi-scale flow from per-level ``(pre, post)`` bijectors, finest level first.

    In the normalizing direction (data -> base) level ``l`` on ``[H, W, C]`` runs ``pre`` (or
    nothing), squeezes to ``[H/2, W/2, 4C]``, runs ``post``, then factors out half of the channels
    and hands the rest to level ``l + 1``; the last level does not factor out. Each level ends
    with an unsqueeze so its output has its input's shape. RealNVP: ``pre`` = checkerboard
    couplings, ``post`` = channel couplings; Glow: ``pre = None``, ``post`` = Glow steps.
    """
    inner: Bijector | None = None
    for pre, post in reversed(levels):
        # Listed base side first (the forward direction).
        layers = [Squeeze()]
        if inner is not None:
            layers.append(FactorOut(inner))
        layers += [post, Invert(Squeeze())]
        if pre is not None:
            layers.append(pre)
        inner = Chain(tuple(layers))
    return inner
