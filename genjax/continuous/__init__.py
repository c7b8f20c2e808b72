"""Continuous-time flows and the shared ODE solve."""

from genjax.continuous.ode import ADJOINTS, SOLVERS, ODESolverConfig, odeint

__all__ = ["ADJOINTS", "SOLVERS", "ODESolverConfig", "odeint"]
