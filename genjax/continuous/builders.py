"""Config -> CNF model (used by the registry)."""

from __future__ import annotations

from genjax.config import SectionReader, one_of
from genjax.continuous.cnf import CNF
from genjax.continuous.divergence import DIVERGENCES, PROBES
from genjax.continuous.ode import ADJOINTS, SOLVERS, ODESolverConfig
from genjax.nn import ACTIVATIONS, ConcatSquashMLP


def _widths(v):
    return isinstance(v, tuple) and len(v) > 0 and all(isinstance(w, int) and w >= 1 for w in v)


def _positive(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _nonneg(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def build_ffjord(model_config, dataset) -> CNF:
    """FFJORD with ``ConcatSquash`` layers. Keys (``model.*``), FFJORD's toy defaults:

    hidden (64, 64, 64), activation "tanh", time_length 0.5, train_time True,
    divergence "exact" (training) | "hutchinson", eval_divergence "auto" (exact for d <= 256),
    probe "gaussian" | "rademacher", solver "dopri5", rtol/atol 1e-5, dt0 0.0 (0: diffrax's
    initial-step heuristic, as torchdiffeq), steps 100 (fixed-step solvers), max_steps 1000,
    adjoint "recursive" | "backsolve" | "direct", eval_rtol/eval_atol (0: as training),
    kinetic_weight / jacobian_weight 0.0 (RNODE).
    """
    r = SectionReader(model_config, "model")
    net = ConcatSquashMLP(
        hidden=r.get("hidden", (64, 64, 64), _widths, "a tuple of positive ints"),
        activation=r.get("activation", "tanh", *one_of(sorted(ACTIVATIONS))),
    )
    dt0 = r.get("dt0", 0.0, _nonneg, "a float >= 0 (0: automatic first step)")
    solver = ODESolverConfig(
        solver=r.get("solver", "dopri5", *one_of(sorted(SOLVERS))),
        steps=r.get("steps", 100, lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
        rtol=r.get("rtol", 1e-5, _positive, "a float > 0"),
        atol=r.get("atol", 1e-5, _positive, "a float > 0"),
        max_steps=r.get("max_steps", 1000, lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
        adjoint=r.get("adjoint", "recursive", *one_of(ADJOINTS)),
        dt0="auto" if dt0 == 0 else float(dt0),
    )
    eval_rtol = r.get("eval_rtol", 0.0, _nonneg, "a float >= 0 (0: same as rtol)")
    eval_atol = r.get("eval_atol", 0.0, _nonneg, "a float >= 0 (0: same as atol)")
    eval_solver = solver.replace(rtol=eval_rtol or solver.rtol, atol=eval_atol or solver.atol)
    model = CNF(
        net,
        dataset.event_shape,
        solver=solver,
        eval_solver=eval_solver,
        divergence=r.get("divergence", "exact", *one_of(DIVERGENCES)),
        eval_divergence=r.get("eval_divergence", "auto", *one_of((*DIVERGENCES, "auto"))),
        probe=r.get("probe", "gaussian", *one_of(PROBES)),
        time_length=r.get("time_length", 0.5, _positive, "a float > 0"),
        train_time=r.get("train_time", True),
        kinetic_weight=r.get("kinetic_weight", 0.0, _nonneg, "a float >= 0"),
        jacobian_weight=r.get("jacobian_weight", 0.0, _nonneg, "a float >= 0"),
    )
    r.finish()
    return model
