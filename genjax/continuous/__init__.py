"""Continuous-time flows on the shared ODE layer (``genjax.ode``): Neural ODEs, CNF / FFJORD."""

from genjax.continuous.builders import build_ffjord
from genjax.continuous.cnf import CNF
from genjax.continuous.neural_ode import NeuralODE
from genjax.ode import ODE_SAMPLERS
from genjax.model import ModelEntry

MODELS = {
    "ffjord": ModelEntry(
        build_ffjord,
        family="continuous",
        summary="FFJORD continuous normalizing flow (exact or Hutchinson trace, RNODE regularisers)",
        samplers=ODE_SAMPLERS,
        tiny={"hidden": (16, 16), "ode": {"solver": "heun", "steps": 4}},
        default_experiment="ffjord_toy",
        leaderboard={"2d": "ffjord_toy", "digits": "ffjord_digits"},
    ),
}

__all__ = ["CNF", "MODELS", "NeuralODE", "build_ffjord"]
