"""Langevin MCMC for any score or energy: unadjusted (ULA) and Metropolis-adjusted (MALA).

One step with step size ``h`` proposes ``x' = x + h/2 grad log p(x) + sqrt(h) z``. ULA accepts
every proposal, so its stationary law is off by ``O(h)`` (for ``N(0, 1)`` its variance is
``1 / (1 - h/4)``); MALA accepts with the Metropolis-Hastings probability and leaves ``p``
exactly invariant. Chains are batched: ``x [batch, *event]`` holds independent chains.

``init(x) -> state`` and ``step(state, key) -> state`` run under ``lax.scan`` (``langevin``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from genjax.diffusion.sde import bcast


def _sum_event(v):
    return jnp.sum(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ChainState:
    """``x [batch, *event]``; ``log_p`` and ``grad`` at ``x`` (MALA); ``accepted [batch]`` counts."""

    x: jax.Array
    log_p: jax.Array
    grad: jax.Array
    accepted: jax.Array


def _value_and_grad(log_prob_fn):
    def fn(x):
        lp, vjp = jax.vjp(log_prob_fn, x)
        (g,) = vjp(jnp.ones_like(lp))
        return lp, g

    return fn


@dataclasses.dataclass(frozen=True)
class Langevin:
    """Langevin dynamics for ``p``, given as a score or a log-density (or an energy ``E = -log p``).

    Exactly one of ``score_fn`` / ``log_prob_fn`` / ``energy_fn`` is given; ``adjusted=True``
    (MALA) needs a log-density or an energy. All act on batches ``[batch, *event]``; log
    densities return ``[batch]``.

    Attributes:
      step_size: ``h`` (scalar or ``[batch]``).
      adjusted: Metropolis-adjust each proposal.
    """

    step_size: float
    score_fn: Callable | None = None
    log_prob_fn: Callable | None = None
    energy_fn: Callable | None = None
    adjusted: bool = False

    def __post_init__(self):
        given = [f is not None for f in (self.score_fn, self.log_prob_fn, self.energy_fn)]
        if sum(given) != 1:
            raise ValueError("give exactly one of score_fn, log_prob_fn, energy_fn")
        if self.adjusted and self.score_fn is not None:
            raise ValueError("Metropolis adjustment needs the log-density: give log_prob_fn or energy_fn")

    def _log_prob(self):
        if self.log_prob_fn is not None:
            return self.log_prob_fn
        return lambda x: -self.energy_fn(x)

    def _evaluate(self, x):
        if self.score_fn is not None:
            return jnp.zeros(x.shape[:1], x.dtype), self.score_fn(x)
        return _value_and_grad(self._log_prob())(x)

    def init(self, x: jax.Array) -> ChainState:
        lp, g = self._evaluate(x)
        return ChainState(x, lp, g, jnp.zeros(x.shape[:1], jnp.int32))

    def step(self, state: ChainState, key: jax.Array) -> ChainState:
        h_ex = jnp.broadcast_to(jnp.asarray(self.step_size, state.x.dtype), state.x.shape[:1])
        h = bcast(h_ex, state.x)
        z = jax.random.normal(key, state.x.shape, state.x.dtype)
        proposal = state.x + 0.5 * h * state.grad + jnp.sqrt(h) * z
        lp_new, g_new = self._evaluate(proposal)
        if not self.adjusted:
            return ChainState(proposal, lp_new, g_new, state.accepted + 1)
        # log q(x | x') - log q(x' | x) for the Gaussian proposal x' ~ N(x + h/2 g(x), h I)
        fwd = proposal - state.x - 0.5 * h * state.grad
        bwd = state.x - proposal - 0.5 * h * g_new
        log_ratio = lp_new - state.log_p + _sum_event(fwd**2 - bwd**2) / (2.0 * h_ex)
        u = jax.random.uniform(jax.random.fold_in(key, 1), log_ratio.shape)
        accept = jnp.log(u) < log_ratio
        pick = lambda new, old: jnp.where(bcast(accept, new), new, old)  # noqa: E731
        return ChainState(pick(proposal, state.x), jnp.where(accept, lp_new, state.log_p),
                          pick(g_new, state.grad), state.accepted + accept.astype(jnp.int32))


def langevin(key: jax.Array, x0: jax.Array, sampler: Langevin, num_steps: int) -> tuple[jax.Array, dict]:
    """Run ``num_steps`` Langevin steps from ``x0 [batch, *event]``.

    Returns:
      ``(x [batch, *event], {"accept_rate": [batch]})``.
    """
    state = sampler.init(x0)
    state, _ = jax.lax.scan(lambda s, k: (sampler.step(s, k), None), state, jax.random.split(key, num_steps))
    return state.x, {"accept_rate": state.accepted / num_steps}
