"""Linen networks shared by the families."""

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
    "MLP",
    "TimeEmbedding",
    "TimeMLP",
    "get_activation",
    "sinusoidal_embedding",
]
