"""Coupling layers (NICE, RealNVP, Glow, neural spline flows): masks, conditioners, ``Coupling``.

A coupling keeps the elements where ``mask = 1`` and transforms the others elementwise with
parameters computed from the kept ones (and ``cond``):
``y = m * x + (1 - m) * tau(x; conditioner(m * x, cond))``. Its Jacobian is triangular, so the
log-det is the sum of the transformed elements' log-derivatives, and both directions cost one
conditioner pass. Block masks (``half``, ``channel``) are applied as a split of the last axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from genjax.bijectors.base import Bijector, sum_except_batch
from genjax.bijectors.transforms import Affine
from genjax.nn import MLP, ConvResNet, GlowConvNet, broadcast_cond

MASKS = ("half", "alternate", "checkerboard", "channel")


def coupling_mask(kind: str, event_shape: tuple[int, ...], parity: int = 0) -> np.ndarray:
    """0/1 mask of ``event_shape``; 1 marks the elements a coupling keeps (and conditions on).

    - ``half``: the first ``ceil(n/2)`` entries of the last axis (vectors; channels of images).
    - ``channel``: the first half of the channels of an ``[H, W, C]`` image (same as ``half``).
    - ``alternate``: even entries of the last axis.
    - ``checkerboard``: pixels with ``(h + w)`` even of an ``[H, W, C]`` image, every channel.

    ``parity = 1`` swaps the two parts.
    """
    n = event_shape[-1]
    if kind in ("half", "channel"):
        if kind == "channel" and len(event_shape) != 3:
            raise ValueError(f"a channel mask needs [H, W, C] events, got {event_shape}")
        last = np.arange(n) < (n + 1) // 2
        mask = np.broadcast_to(last, event_shape)
    elif kind == "alternate":
        mask = np.broadcast_to(np.arange(n) % 2 == 0, event_shape)
    elif kind == "checkerboard":
        if len(event_shape) != 3:
            raise ValueError(f"a checkerboard mask needs [H, W, C] events, got {event_shape}")
        h, w, _ = event_shape
        board = (np.arange(h)[:, None] + np.arange(w)[None, :]) % 2 == 0
        mask = np.broadcast_to(board[:, :, None], event_shape)
    else:
        raise ValueError(f"unknown mask {kind!r}; known: {MASKS}")
    mask = mask.astype(np.float32)
    return 1.0 - mask if parity % 2 else mask


class MLPConditioner(nn.Module):
    """``(h [batch, *in_event], cond [batch, k] | None, out_shape, num_params) -> [batch, *out_shape, num_params]``.

    An MLP on the flattened input (and ``cond``), last layer zero-initialised.
    """

    hidden: Sequence[int] = (64, 64)
    activation: str = "relu"

    @nn.compact
    def __call__(self, h, cond, out_shape: tuple[int, ...], num_params: int):
        b = h.shape[0]
        inp = jnp.reshape(h, (b, -1))
        if cond is not None:
            inp = jnp.concatenate([inp, jnp.reshape(cond, (b, -1))], axis=-1)
        out = MLP(self.hidden, math.prod(out_shape) * num_params, activation=self.activation, zero_init_last=True)(inp)
        return jnp.reshape(out, (b, *out_shape, num_params))


class ConvConditioner(nn.Module):
    """Convolutional conditioner for ``[batch, H, W, C]`` events (output ``[batch, H, W, C', P]``
    for ``out_shape = (H, W, C')``): Glow's three-layer net (``net="glow"``) or a small ResNet
    (``net="resnet"``); last layer zero-initialised. A vector ``cond [batch, k]`` is concatenated
    to every pixel."""

    hidden: int = 64
    net: str = "glow"
    num_blocks: int = 2
    activation: str = "relu"

    @nn.compact
    def __call__(self, h, cond, out_shape: tuple[int, ...], num_params: int):
        b, (hh, ww, c_out) = h.shape[0], out_shape
        inp = broadcast_cond(h, cond)
        if self.net == "glow":
            out = GlowConvNet(self.hidden, c_out * num_params, self.activation)(inp)
        elif self.net == "resnet":
            out = ConvResNet(self.hidden, c_out * num_params, self.num_blocks, self.activation)(inp)
        else:
            raise ValueError(f"unknown conv net {self.net!r}; known: glow, resnet")
        return jnp.reshape(out, (b, hh, ww, c_out, num_params))


class Coupling(Bijector):
    """Coupling: the kept part passes unchanged, the rest goes through ``transform`` with parameters
    ``conditioner(kept, cond)``.

    ``half`` and ``channel`` masks split the last axis into two blocks: the conditioner reads only
    the kept block and outputs parameters only for the other (as in Glow and NSF). ``alternate``
    and ``checkerboard`` are masked: the conditioner reads ``m * x`` and its outputs for the kept
    elements are ignored (RealNVP).

    Attributes:
      conditioner: module ``(h, cond, out_shape, num_params) -> [batch, *out_shape, num_params]``
        (``MLPConditioner``, ``ConvConditioner`` or your own).
      transform: elementwise transformer (``Additive`` for NICE, ``Affine`` for RealNVP/Glow,
        ``RationalQuadraticSpline`` for neural spline flows).
      mask: a kind of ``coupling_mask``.
      parity: 0 keeps the mask's first part, 1 the other.
    """

    conditioner: nn.Module
    transform: Any = Affine()
    mask: str = "half"
    parity: int = 0

    def _split(self, x):
        n = x.shape[-1]
        if self.mask == "channel" and x.ndim != 4:
            raise ValueError(f"a channel mask needs [H, W, C] events, got {x.shape[1:]}")
        k = (n + 1) // 2
        first, second = x[..., :k], x[..., k:]
        return (first, second) if self.parity % 2 == 0 else (second, first)

    def _merge(self, kept, changed):
        return jnp.concatenate([kept, changed] if self.parity % 2 == 0 else [changed, kept], axis=-1)

    def _run(self, x, cond, inverse: bool):
        fn = self.transform.inverse if inverse else self.transform.forward
        if self.mask in ("half", "channel"):
            kept, rest = self._split(x)
            params = self.conditioner(kept, cond, rest.shape[1:], self.transform.num_params)
            out, ld = fn(rest, params)
            return self._merge(kept, out), sum_except_batch(ld)
        keep = jnp.asarray(coupling_mask(self.mask, x.shape[1:], self.parity), x.dtype)
        params = self.conditioner(x * keep, cond, x.shape[1:], self.transform.num_params)
        out, ld = fn(x, params)
        keep = keep > 0
        return jnp.where(keep, x, out), sum_except_batch(jnp.where(keep, 0.0, ld))

    def forward_and_log_det(self, x, cond=None):
        return self._run(x, cond, inverse=False)

    def inverse_and_log_det(self, y, cond=None):
        return self._run(y, cond, inverse=True)
