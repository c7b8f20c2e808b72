"""Linen networks shared by the families."""

from genjax.nn.concatsquash import ConcatSquashDense, ConcatSquashMLP
from genjax.nn.conv import ConvResNet, GlowConvNet, ResNetBlock, broadcast_cond
from genjax.nn.made import MADE, MaskedDense, made_degrees, made_masks
from genjax.nn.mlp import (
    ACTIVATIONS,
    MLP,
    TimeEmbedding,
    TimeMLP,
    get_activation,
    sinusoidal_embedding,
)

__all__ = [
    "ACTIVATIONS",
    "ConcatSquashDense",
    "ConcatSquashMLP",
    "MADE",
    "MLP",
    "ConvResNet",
    "GlowConvNet",
    "MaskedDense",
    "ResNetBlock",
    "TimeEmbedding",
    "TimeMLP",
    "broadcast_cond",
    "get_activation",
    "made_degrees",
    "made_masks",
    "sinusoidal_embedding",
]
