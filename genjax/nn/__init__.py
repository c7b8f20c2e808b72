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
from genjax.nn.unet import AttentionBlock, ResBlock, UNet

__all__ = [
    "ACTIVATIONS",
    "AttentionBlock",
    "ConcatSquashDense",
    "ConcatSquashMLP",
    "ConvResNet",
    "GlowConvNet",
    "MADE",
    "MLP",
    "MaskedDense",
    "ResBlock",
    "ResNetBlock",
    "TimeEmbedding",
    "TimeMLP",
    "UNet",
    "broadcast_cond",
    "get_activation",
    "made_degrees",
    "made_masks",
    "sinusoidal_embedding",
]
