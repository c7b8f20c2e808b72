"""Log-likelihood through the probability-flow ODE, with exact or Hutchinson divergence.

Along the PF-ODE ``dx/dt = f(x, t)`` the density changes as ``d log p_t(x_t) / dt = -div f``, so

    log p_{t0}(x) = log p_T(x_T) + int_{t0}^{T} div f(x_t, t) dt,

solved jointly with ``x_t`` from the data time ``t0`` up to ``T`` (Song et al. 2021, app. D;
FFJORD). The divergence is the exact trace of the Jacobian (``D`` Jacobian-vector products, for
small ``D``) or Hutchinson's estimate ``v^T J v`` with a probe ``v`` held fixed over the solve.

The divergence helpers take a batched field ``f: [batch, *event] -> [batch, *event]`` whose
examples do not interact, and return ``[batch]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from genjax.continuous.ode import ODESolverConfig, odeint

Field = Callable[[jax.Array], jax.Array]
PROBES = ("rademacher", "gaussian")
DIVERGENCES = ("exact", "hutchinson")


def exact_divergence(f: Field, x: jax.Array, *, chunk: int | None = None) -> tuple[jax.Array, jax.Array]:
    """``(f(x), tr(df/dx))`` per example, from one JVP per event dimension.

    Args:
      f: batched field with independent examples.
      x: ``[batch, *event]``.
      chunk: how many JVPs to vectorise at once (``None``: all ``D``).

    Returns:
      ``f(x) [batch, *event]`` and the divergence ``[batch]``.
    """
    batch, event = x.shape[0], x.shape[1:]
    d = math.prod(event)
    fx = f(x)

    def diag_entry(i):
        e = jnp.zeros((d,), x.dtype).at[i].set(1.0).reshape(event)
        tangent = jnp.broadcast_to(e, x.shape)
        _, jv = jax.jvp(f, (x,), (tangent,))
        return jnp.reshape(jv, (batch, d))[:, i]

    diag = jax.lax.map(diag_entry, jnp.arange(d), batch_size=chunk or d)  # [d, batch]
    return fx, jnp.sum(diag, axis=0)


def hutchinson_divergence(f: Field, x: jax.Array, probe: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(f(x), v^T (df/dx) v)`` per example for the probe ``v = probe [batch, *event]``."""
    fx, jv = jax.jvp(f, (x,), (probe,))
    return fx, jnp.sum(jnp.reshape(jv * probe, (x.shape[0], -1)), axis=-1)


def draw_probe(key: jax.Array, shape: tuple[int, ...], kind: str = "rademacher", dtype=None) -> jax.Array:
    """A Hutchinson probe with ``E[v v^T] = I``."""
    dtype = dtype or jnp.result_type(float)
    if kind == "rademacher":
        return jax.random.rademacher(key, shape, dtype)
    if kind == "gaussian":
        return jax.random.normal(key, shape, dtype)
    raise ValueError(f"probe must be one of {PROBES}, got {kind!r}")


def ode_log_prob(
    field: Callable[[jax.Array, jax.Array], jax.Array],
    prior_logp: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    t0: float,
    t1: float,
    cfg: ODESolverConfig,
    *,
    divergence: str = "exact",
    key: jax.Array | None = None,
    probe: str = "rademacher",
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``log p_{t0}(x)`` of an ODE ``dx/dt = field(x, t)`` whose density at ``t1`` is ``prior_logp``.

    Args:
      field: ``(x [batch, *event], t scalar) -> [batch, *event]``.
      prior_logp: ``[batch, *event] -> [batch]``, the log-density at ``t1``.
      x: ``[batch, *event]`` points at time ``t0``.
      t0, t1: the data time and the prior time.
      cfg: ODE solver settings.
      divergence: "exact" or "hutchinson".
      key: probe key (Hutchinson only).
      probe: "rademacher" or "gaussian".

    Returns:
      ``(log_p [batch], x_t1 [batch, *event], nfe)``.
    """
    if divergence == "exact":
        def div_fn(fn, y):
            return exact_divergence(fn, y)
    elif divergence == "hutchinson":
        if key is None:
            raise ValueError("Hutchinson's divergence needs a key for its probe")
        v = draw_probe(key, x.shape, probe, x.dtype)

        def div_fn(fn, y):
            return hutchinson_divergence(fn, y, v)
    else:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")

    def augmented(t, state, _):
        y, _ = state
        dy, div = div_fn(lambda z: field(z, t), y)
        return dy, div

    (xT, delta), nfe = odeint(augmented, (x, jnp.zeros(x.shape[:1], x.dtype)), t0, t1, cfg)
    return prior_logp(xT) + delta, xT, nfe
