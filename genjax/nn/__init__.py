"""Linen networks shared by the families."""

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
    "MLP",
    "AttentionBlock",
    "ResBlock",
    "TimeEmbedding",
    "TimeMLP",
    "UNet",
    "get_activation",
    "sinusoidal_embedding",
]
