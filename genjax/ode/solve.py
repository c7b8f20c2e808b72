"""One entry point for solving ODEs with diffrax, shared by every continuous-time family.

Flow matching, CNFs, the probability-flow ODE of diffusion models and consistency models all
integrate ``dy/dt = f(t, y)`` over a pytree ``y``; they choose the solver by name from a config
and report the number of function evaluations (NFE) of each solve.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import diffrax
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class _SolverInfo:
    cls: type
    adaptive: bool
    # Vector-field evaluations per step and once at the start (FSAL tableaus reuse the last
    # stage of one step as the first of the next, so they pay one extra evaluation up front).
    evals_per_step: int
    evals_at_start: int
    order: int


SOLVERS: dict[str, _SolverInfo] = {
    "euler": _SolverInfo(diffrax.Euler, False, 1, 0, 1),
    "midpoint": _SolverInfo(diffrax.Midpoint, False, 2, 0, 2),
    "heun": _SolverInfo(diffrax.Heun, False, 2, 0, 2),
    "ralston": _SolverInfo(diffrax.Ralston, False, 2, 0, 2),
    "bosh3": _SolverInfo(diffrax.Bosh3, True, 3, 1, 3),
    "tsit5": _SolverInfo(diffrax.Tsit5, True, 6, 1, 5),
    "dopri5": _SolverInfo(diffrax.Dopri5, True, 6, 1, 5),
    "dopri8": _SolverInfo(diffrax.Dopri8, True, 12, 1, 8),
}
ADJOINTS = ("recursive", "backsolve", "direct")


@dataclasses.dataclass(frozen=True)
class ODESolverConfig:
    """How to integrate an ODE.

    Attributes:
      solver: a name in ``SOLVERS``. Adaptive solvers (tsit5, dopri5, ...) use a PID step-size
        controller with ``rtol``/``atol``; fixed-step ones (euler, heun, midpoint, ralston) take
        ``steps`` equal steps.
      steps: number of steps of a fixed-step solve; also sets the first step of an adaptive one
        (``(t1 - t0) / steps``) unless ``dt0`` is given.
      rtol, atol: tolerances of an adaptive solve.
      max_steps: a solve that needs more steps fails loudly rather than hanging.
      adjoint: gradients by differentiating through the solver ("recursive", checkpointed),
        solving the adjoint ODE backwards ("backsolve", O(1) memory) or plain autodiff ("direct").
      fixed_grid: run an adaptive solver's tableau on a fixed grid of ``steps`` steps instead.
      dt0: first step of an adaptive solve: ``None`` takes ``(t1 - t0) / steps``, a float > 0
        that magnitude (in the direction of integration), ``"auto"`` diffrax's initial-step
        heuristic (Hairer et al.), as torchdiffeq does.
    """

    solver: str = "tsit5"
    steps: int = 100
    rtol: float = 1e-5
    atol: float = 1e-5
    max_steps: int = 10_000
    adjoint: str = "recursive"
    fixed_grid: bool = False
    dt0: float | str | None = None

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown ODE solver {self.solver!r}; known: {sorted(SOLVERS)}")
        if self.adjoint not in ADJOINTS:
            raise ValueError(f"unknown adjoint {self.adjoint!r}; known: {list(ADJOINTS)}")
        if self.steps < 1:
            raise ValueError(f"ODE steps must be >= 1, got {self.steps}")
        if not (self.dt0 is None or self.dt0 == "auto" or (isinstance(self.dt0, (int, float)) and self.dt0 > 0)):
            raise ValueError(f"ODE dt0 must be None, 'auto' or a float > 0, got {self.dt0!r}")

    @property
    def adaptive(self) -> bool:
        return SOLVERS[self.solver].adaptive and not self.fixed_grid

    def replace(self, **changes) -> ODESolverConfig:
        return dataclasses.replace(self, **changes)


def _adjoint(name: str):
    if name == "backsolve":
        return diffrax.BacksolveAdjoint()
    if name == "direct":
        return diffrax.DirectAdjoint()
    return diffrax.RecursiveCheckpointAdjoint()


def odeint(
    f: Callable[[jax.Array, Any, Any], Any],
    y0: Any,
    t0: float,
    t1: float,
    cfg: ODESolverConfig = ODESolverConfig(),
    *,
    args: Any = None,
    save_ts: jax.Array | None = None,
) -> tuple[Any, jax.Array]:
    """Integrate ``dy/dt = f(t, y, args)`` from ``t0`` to ``t1``.

    Args:
      f: vector field on a pytree ``y`` (the whole batch is one state, so an adaptive solver
        takes one step-size sequence for the batch: one compiled loop, no per-example padding).
      y0: initial state.
      t0, t1: integration interval (``t1 < t0`` integrates backwards).
      cfg: solver settings.
      args: passed to ``f`` (and differentiated through by the adjoint).
      save_ts: optional ``[T]`` times at which to return the state instead of only ``t1``.

    Returns:
      ``(y, nfe)``: ``y`` at ``t1`` (or stacked at ``save_ts``, leading axis ``T``) and the
      number of vector-field evaluations as an int32 scalar (rejected steps included).
    """
    info = SOLVERS[cfg.solver]
    dt0 = (t1 - t0) / cfg.steps
    if cfg.adaptive and cfg.dt0 == "auto":
        dt0 = None  # diffrax's heuristic; the NFE formula below still counts every evaluation
    elif cfg.adaptive and cfg.dt0 is not None:
        dt0 = cfg.dt0 * jnp.sign(jnp.asarray(t1 - t0, jnp.result_type(float)))
    if cfg.adaptive:
        controller = diffrax.PIDController(rtol=cfg.rtol, atol=cfg.atol)
        max_steps = cfg.max_steps
    else:
        controller = diffrax.ConstantStepSize()
        max_steps = cfg.steps
    saveat = diffrax.SaveAt(ts=save_ts) if save_ts is not None else diffrax.SaveAt(t1=True)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(f),
        info.cls(),
        t0,
        t1,
        dt0,
        y0,
        args=args,
        saveat=saveat,
        stepsize_controller=controller,
        adjoint=_adjoint(cfg.adjoint),
        max_steps=max_steps,
    )
    nfe = info.evals_per_step * sol.stats["num_steps"] + info.evals_at_start
    ys = sol.ys if save_ts is not None else jax.tree_util.tree_map(lambda y: y[0], sol.ys)
    return ys, jnp.asarray(nfe, jnp.int32)
