"""A Neural ODE layer: ``y = x(t1)`` where ``dx/dt = field(x, t)`` and ``x(t0)`` is the input."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.ode import ODESolverConfig, odeint


class NeuralODE(nn.Module):
    """Integrates a Linen vector field with diffrax; returns the end state and the NFE.

    Attributes:
      field: Linen module called as ``field(x, t)`` with ``t`` a scalar, returning ``dx/dt``
        of the shape of ``x`` (the whole batch is one ODE state: one adaptive step sequence).
      solver: solver, tolerances, ``dt0``, ``max_steps`` and adjoint
        ("recursive": diffrax's ``RecursiveCheckpointAdjoint``, the default; "backsolve":
        ``BacksolveAdjoint``, O(1) memory in the number of steps).
      t0, t1: integration interval.

    Call: ``(x, save_ts=None) -> (y, nfe)``; ``y`` is ``x(t1)`` or, with ``save_ts [T]``, the
    states at those times stacked on a leading axis. The field's parameters travel through the
    solve's ``args``, so every adjoint differentiates them.
    """

    field: nn.Module
    solver: ODESolverConfig = ODESolverConfig()
    t0: float = 0.0
    t1: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array, save_ts: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        if self.is_initializing():
            self.field(x, jnp.asarray(self.t0, x.dtype))  # creates the field's parameters
        field, variables = self.field.unbind()

        def vector_field(t, y, variables):
            return field.apply(variables, y, jnp.asarray(t, y.dtype))

        return odeint(vector_field, x, self.t0, self.t1, self.solver, args=variables, save_ts=save_ts)
