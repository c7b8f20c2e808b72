"""Solving an ODE together with its log-determinant: the instantaneous change of variables.

Along ``dx/dt = f(t, x)`` the log-density of the transported points changes as
``d log p_t(x_t) / dt = -tr(df/dx)``; ``integrate_with_log_det`` solves ``x`` and
``int tr(df/dx) dt`` as one state (FFJORD), and ``ode_log_prob`` turns that into the
log-density of points at one end of the ODE given the density at the other. CNFs, the
probability-flow ODE of diffusion models and flow-matching models all use these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from genjax.ode.divergence import DIVERGENCES, divergence, sample_probe
from genjax.ode.solve import ODESolverConfig, odeint

# (t, x [batch, *event], args) -> dx/dt [batch, *event], examples independent.
VectorField = Callable[[jax.Array, jax.Array, Any], jax.Array]


def integrate_with_log_det(
    field: VectorField,
    x: jax.Array,
    t0: float,
    t1: float,
    cfg: ODESolverConfig,
    *,
    args: Any = None,
    div: str = "exact",
    probe: jax.Array | None = None,
    regularise: bool = False,
    save_ts: jax.Array | None = None,
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Solve ``dx/dt = field(t, x, args)`` with ``d logdet/dt = tr(d field / dx)``.

    Args:
      field: batched vector field, examples independent.
      x: ``[batch, *event]`` start state.
      t0, t1: interval (``t1 < t0`` integrates backwards; ``logdet`` then accumulates
        ``int_t0^t1``, a negative-time integral).
      cfg: solver settings.
      args: passed to ``field`` (differentiated by every adjoint).
      div: "exact" or "hutchinson".
      probe: ``[batch, *event]`` Hutchinson probe, fixed for the whole solve (it travels in the
        ODE args, never resampled per evaluation).
      regularise: also integrate ``kinetic = int ||f||^2`` and ``sq_jac = int ||df/dx||_F^2``.
      save_ts: optional times at which to return the state (leading axis ``[T]``).

    Returns:
      ``({"x", "logdet"[, "kinetic", "sq_jac"]}, nfe)``: ``logdet [batch]`` is
      ``int_t0^t1 tr(df/dx) dt`` = ``log |det d x(t1) / d x(t0)|``.
    """
    if div not in DIVERGENCES:
        raise ValueError(f"unknown divergence {div!r}; known: {list(DIVERGENCES)}")
    if div == "hutchinson" and probe is None:
        raise ValueError("the Hutchinson divergence needs a probe fixed for the solve")
    axes = tuple(range(1, x.ndim))

    def augmented(t, state, aug_args):
        field_args, e = aug_args
        fx, tr, sq_jac = divergence(div, lambda y: field(t, y, field_args), state["x"], e)
        out = {"x": fx, "logdet": tr}
        if regularise:
            out["kinetic"] = jnp.sum(fx**2, axis=axes)
            out["sq_jac"] = sq_jac
        return out

    zeros = jnp.zeros(x.shape[:1], x.dtype)
    state = {"x": x, "logdet": zeros}
    if regularise:
        state.update(kinetic=zeros, sq_jac=zeros)
    probe = None if div == "exact" else jax.lax.stop_gradient(probe)
    return odeint(augmented, state, t0, t1, cfg, args=(args, probe), save_ts=save_ts)


def ode_log_prob(
    field: VectorField,
    end_log_prob: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    t0: float,
    t1: float,
    cfg: ODESolverConfig,
    *,
    args: Any = None,
    divergence: str = "exact",
    key: jax.Array | None = None,
    probe: str = "rademacher",
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``log p_{t0}(x)`` for points ``x`` at ``t0`` of ``dx/dt = field(t, x, args)``, given ``log p_{t1}``.

    ``log p_{t0}(x) = log p_{t1}(x_{t1}) + int_{t0}^{t1} tr(df/dx) dt`` (the direction of time is
    either way: a probability-flow ODE runs from the data at ``t_min`` up to ``T``, a flow-matching
    field from the data at 1 down to the source at 0).

    Args:
      field: the velocity field.
      end_log_prob: ``[batch, *event] -> [batch]``, the log-density at ``t1``.
      x: ``[batch, *event]`` points at ``t0``.
      t0, t1: the time of ``x`` and the time of the known density.
      cfg: solver settings.
      args: passed to ``field``.
      divergence: "exact" or "hutchinson" (unbiased for ``p``'s log-det, one probe per example
        drawn from ``key``).
      key: probe key (Hutchinson only; a fixed key when None).
      probe: "rademacher" or "gaussian".

    Returns:
      ``(log_p [batch], x_{t1} [batch, *event], nfe)``.
    """
    e = None
    if divergence == "hutchinson":
        key = jax.random.key(0) if key is None else key
        e = sample_probe(key, x.shape, probe, x.dtype)
    state, nfe = integrate_with_log_det(field, x, t0, t1, cfg, args=args, div=divergence, probe=e)
    return end_log_prob(state["x"]) + state["logdet"], state["x"], nfe
