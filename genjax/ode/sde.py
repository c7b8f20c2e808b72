"""Fixed-grid SDE solves ``dX = f(t, X) dt + g(t, X) dW`` with diffrax (diagonal noise).

Used by the reverse-time samplers of diffusion models (Euler-Maruyama on the reverse SDE) and by
Schrödinger-bridge models (simulating a learned bridge to build the next coupling). The grid may
run forwards or backwards in ``t``; the Brownian increments are fresh per step (no gradient flows
through the noise, so a Brownian tree's reproducibility under adaptive steps is not needed and
an ``UnsafeBrownianPath`` costs ~10x less).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import lineax as lx

SDE_SOLVERS = {
    # name: (diffrax solver, drift evaluations per step)
    "euler": (diffrax.Euler, 1),  # Euler-Maruyama (Itô)
    "heun": (diffrax.Heun, 2),  # stochastic Heun: Stratonovich; equals Itô for additive noise
}

Drift = Callable[[jax.Array, jax.Array, Any], jax.Array]
Diffusion = Callable[[jax.Array, jax.Array, Any], jax.Array]


def sdeint(
    drift: Drift,
    diffusion: Diffusion,
    x: jax.Array,
    ts: jax.Array,
    key: jax.Array,
    *,
    solver: str = "euler",
    args: Any = None,
    noise_last: bool = True,
    save_path: bool = False,
) -> tuple[jax.Array, jax.Array]:
    """Solve on the grid ``ts`` (monotone, forwards or backwards) from ``x`` at ``ts[0]``.

    Args:
      drift: ``(t, x [batch, *event], args) -> [batch, *event]``.
      diffusion: ``(t, x, args) ->`` an array broadcastable to ``x`` (the diagonal of ``g``).
      x: the state at ``ts[0]``.
      ts: ``[n + 1]`` grid.
      key: Brownian increments.
      solver: a name in ``SDE_SOLVERS``.
      args: passed to ``drift`` and ``diffusion``.
      noise_last: False takes the last step without noise (the mean of the last transition, as
        score-based samplers do to return denoised samples).
      save_path: also return the states at every grid time.

    Returns:
      ``(x at ts[-1] (or [n + 1, *x.shape] with save_path), nfe)``: ``nfe`` counts drift evaluations.
    """
    if solver not in SDE_SOLVERS:
        raise ValueError(f"unknown SDE solver {solver!r}; known: {sorted(SDE_SOLVERS)}")
    cls, evals = SDE_SOLVERS[solver]
    ts = jnp.asarray(ts)
    n = ts.shape[0] - 1
    if n < 1:
        raise ValueError("an SDE grid needs at least two times")
    # diffrax integrates forwards: s = sign * t increases along the grid.
    sign = jnp.where(ts[-1] >= ts[0], 1.0, -1.0).astype(ts.dtype)
    noisy = n if noise_last else n - 1
    path = [x[None]] if save_path else None
    nfe = 0
    if noisy >= 1:
        ss = sign * ts[: noisy + 1]
        bm = diffrax.UnsafeBrownianPath(shape=x.shape, key=key)
        # dt = sign ds; dW over dt has the law of dW over ds, so g is used as is.
        drift_term = diffrax.ODETerm(lambda s, y, a: sign * drift(sign * s, y, a))
        noise_term = diffrax.ControlTerm(
            lambda s, y, a: lx.DiagonalLinearOperator(jnp.broadcast_to(diffusion(sign * s, y, a), y.shape).astype(y.dtype)),
            bm,
        )
        saveat = diffrax.SaveAt(ts=ss) if save_path else diffrax.SaveAt(t1=True)
        sol = diffrax.diffeqsolve(
            diffrax.MultiTerm(drift_term, noise_term), cls(), ss[0], ss[-1], None, x, args=args,
            stepsize_controller=diffrax.StepTo(ts=ss), saveat=saveat, max_steps=noisy,
            adjoint=diffrax.ForwardMode(),
        )
        if save_path:
            path = [sol.ys]
            x = sol.ys[-1]
        else:
            x = sol.ys[0]
        nfe += evals * noisy
    if not noise_last:
        t, s = ts[-2], ts[-1]
        x = x + drift(t, x, args) * (s - t)
        nfe += 1
        if save_path:
            path.append(x[None])
    if save_path:
        x = jnp.concatenate(path) if len(path) > 1 else path[0]
    return x, jnp.asarray(nfe, jnp.int32)
