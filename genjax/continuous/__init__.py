"""Continuous-time flows and the shared ODE solve: Neural ODEs, CNF / FFJORD."""

from genjax.continuous.builders import build_ffjord
from genjax.continuous.cnf import CNF, integrate_with_log_det
from genjax.continuous.divergence import (
    DIVERGENCES,
    PROBES,
    divergence,
    exact_divergence,
    hutchinson_divergence,
    sample_probe,
)
from genjax.continuous.neural_ode import NeuralODE
from genjax.continuous.ode import ADJOINTS, SOLVERS, ODESolverConfig, odeint

MODELS = {"ffjord": build_ffjord}

__all__ = [
    "ADJOINTS",
    "CNF",
    "DIVERGENCES",
    "MODELS",
    "PROBES",
    "SOLVERS",
    "NeuralODE",
    "ODESolverConfig",
    "build_ffjord",
    "divergence",
    "exact_divergence",
    "hutchinson_divergence",
    "integrate_with_log_det",
    "odeint",
    "sample_probe",
]
