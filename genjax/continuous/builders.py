"""Config -> CNF model (used by the registry)."""

from __future__ import annotations

from genjax.config import NONNEG_FLOAT, POS_FLOAT, WIDTHS, SectionReader, one_of, read_ode
from genjax.continuous.cnf import CNF
from genjax.nn import ACTIVATIONS, ConcatSquashMLP
from genjax.ode import DIVERGENCES, PROBES, ODESolverConfig

# FFJORD's toy set-up: dopri5 at rtol = atol = 1e-5 from diffrax's initial-step heuristic (as
# torchdiffeq), at most 1000 steps.
DEFAULT_ODE = ODESolverConfig("dopri5", rtol=1e-5, atol=1e-5, max_steps=1000, dt0="auto")


def build_ffjord(model_config, dataset) -> CNF:
    """FFJORD with ``ConcatSquash`` layers. Keys (``model.*``), FFJORD's toy defaults:

    hidden (64, 64, 64), activation "tanh", time_length 0.5, train_time True,
    divergence "exact" (training) | "hutchinson", eval_divergence "auto" (exact for d <= 256),
    probe "gaussian" | "rademacher", ``ode.*`` the training solve (dopri5, rtol/atol 1e-5, dt0
    "auto", max_steps 1000; see ``genjax.config.read_ode``), ``eval_ode.*`` the solve of
    ``log_prob`` and sampling (every key defaults to ``ode``'s), kinetic_weight /
    jacobian_weight 0.0 (RNODE).
    """
    r = SectionReader(model_config, "model")
    net = ConcatSquashMLP(
        hidden=r.get("hidden", (64, 64, 64), *WIDTHS),
        activation=r.get("activation", "tanh", *one_of(sorted(ACTIVATIONS))),
    )
    solver = read_ode(r, DEFAULT_ODE)
    eval_solver = read_ode(r, solver, "eval_ode")
    model = CNF(
        net,
        dataset.event_shape,
        solver=solver,
        eval_solver=eval_solver,
        divergence=r.get("divergence", "exact", *one_of(DIVERGENCES)),
        eval_divergence=r.get("eval_divergence", "auto", *one_of((*DIVERGENCES, "auto"))),
        probe=r.get("probe", "gaussian", *one_of(PROBES)),
        time_length=r.get("time_length", 0.5, *POS_FLOAT),
        train_time=r.get("train_time", True),
        kinetic_weight=r.get("kinetic_weight", 0.0, *NONNEG_FLOAT),
        jacobian_weight=r.get("jacobian_weight", 0.0, *NONNEG_FLOAT),
    )
    r.finish()
    return model
