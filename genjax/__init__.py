"""genjax: generative models in JAX/Flax as pure, composable functions."""

__version__ = "0.1.0"
