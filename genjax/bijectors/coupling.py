"""Coupling layers (NICE, RealNVP, Glow, neural spline flows): masks, conditioners, ``Coupling``.

A coupling keeps the elements where ``mask = 1`` and transforms the others elementwise with
parameters computed from the kept ones (and ``cond``):
``y = m * x + (1 - m) * tau(x; conditioner(m * x, cond))``. Its Jacobian is triangular, so the
log-det is the sum of the transformed elements' log-derivatives, and both directions cost one
conditioner pass.
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
    """``(h [batch, *event], cond [batch, k] | None, num_params) -> [batch, *event, num_params]``.

    An MLP on the flattened masked input (and ``cond``), last layer zero-initialised.
    """

    hidden: Sequence[int] = (64, 64)
    activation: str = "relu"

    @nn.compact
    def __call__(self, h, cond, num_params: int):
        b, event = h.shape[0], h.shape[1:]
        inp = jnp.reshape(h, (b, -1))
        if cond is not None:
            inp = jnp.concatenate([inp, jnp.reshape(cond, (b, -1))], axis=-1)
        out = MLP(self.hidden, math.prod(event) * num_params, activation=self.activation, zero_init_last=True)(inp)
        return jnp.reshape(out, (b, *event, num_params))


class ConvConditioner(nn.Module):
    """Convolutional conditioner for ``[batch, H, W, C]`` events: Glow's three-layer net
    (``net="glow"``) or a small ResNet (``net="resnet"``); last layer zero-initialised.
    A vector ``cond [batch, k]`` is concatenated to every pixel."""

    hidden: int = 64
    net: str = "glow"
    num_blocks: int = 2
    activation: str = "relu"

    @nn.compact
    def __call__(self, h, cond, num_params: int):
        b, (hh, ww, c) = h.shape[0], h.shape[1:]
        inp = broadcast_cond(h, cond)
        if self.net == "glow":
            out = GlowConvNet(self.hidden, c * num_params, self.activation)(inp)
        elif self.net == "resnet":
            out = ConvResNet(self.hidden, c * num_params, self.num_blocks, self.activation)(inp)
        else:
            raise ValueError(f"unknown conv net {self.net!r}; known: glow, resnet")
        return jnp.reshape(out, (b, hh, ww, c, num_params))


class Coupling(Bijector):
    """Masked coupling: ``y = where(m, x, tau(x; conditioner(m * x, cond)))``.

    Attributes:
      conditioner: module ``(h, cond, num_params) -> [batch, *event, num_params]``
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

    def _mask_and_params(self, x, cond):
        m = jnp.asarray(coupling_mask(self.mask, x.shape[1:], self.parity), x.dtype)
        params = self.conditioner(x * m, cond, self.transform.num_params)
        return m > 0, params

    def forward_and_log_det(self, x, cond=None):
        keep, params = self._mask_and_params(x, cond)
        y, ld = self.transform.forward(x, params)
        return jnp.where(keep, x, y), sum_except_batch(jnp.where(keep, 0.0, ld))

    def inverse_and_log_det(self, y, cond=None):
        keep, params = self._mask_and_params(y, cond)
        x, ld = self.transform.inverse(y, params)
        return jnp.where(keep, y, x), sum_except_batch(jnp.where(keep, 0.0, ld))
