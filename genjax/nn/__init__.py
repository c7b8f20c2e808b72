"""Linen networks shared by the families."""

from genjax.nn.concatsquash import ConcatSquashDense, ConcatSquashMLP
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
    "MLP",
    "TimeEmbedding",
    "TimeMLP",
    "get_activation",
    "sinusoidal_embedding",
]
