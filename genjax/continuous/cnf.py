"""Continuous normalizing flows (Chen et al., 2018) and FFJORD (Grathwohl et al., 2019).

A network ``g(x, t)`` defines ``dx/dt = g``; the density of ``x(t)`` follows the instantaneous
change of variables ``d log p(x(t)) / dt = -tr(dg/dx)``. FFJORD's convention is kept: data sit
at ``t = 0`` and the N(0, I) base at ``t = T``, so for data ``x``

    log p(x) = log N(z; 0, I) + int_0^T tr(dg/dx(x(t), t)) dt,   z = x(T),

and sampling integrates ``z ~ N(0, I)`` from ``T`` back to ``0``. The state ``(x, log-det)`` is
one ODE solved together, the whole batch at once (one adaptive step sequence, one compiled
loop). ``T`` may be learned (``train_time``: ``T = sqrt_time^2`` as in FFJORD); the solve runs on
``s = t / T`` in ``[0, 1]`` with the field ``T g(x, s T)``, which gives the same states, the same
adaptive steps and NFE as solving on ``[0, T]``, and a gradient for ``T`` through the solve's
args under every adjoint.

RNODE (Finlay et al., 2020) regularisers, when weighted: the kinetic energy
``int_0^T ||g||^2 dt`` and the Jacobian Frobenius norm ``int_0^T ||dg/dx||_F^2 dt`` (exact with
the exact divergence, the unbiased ``||e^T dg/dx||^2`` with Hutchinson's) ride along in the
state and are reported as separate metrics.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.distributions import StandardNormal
from genjax.model import ModelBase
from genjax.ode import (
    DIVERGENCES,
    ODE_SAMPLERS,
    PROBES,
    ODESolverConfig,
    integrate_with_log_det,
    ode_config,
    odeint,
    sample_probe,
)

# Below this dimension log_prob uses the exact trace when asked for "auto" (d forward-mode
# products cost about d field evaluations: cheap for 2-D toys and 64-D digits alike).
AUTO_EXACT_MAX_DIM = 256


class CNF(ModelBase):
    """FFJORD: a continuous normalizing flow with exact or Hutchinson log-determinants.

    Args:
      net: Linen module ``net(x [batch, d], t scalar) -> [batch, d]`` (e.g.
        ``genjax.nn.ConcatSquashMLP``) acting on each row independently.
      event_shape: shape of one example (flattened to ``d`` for the solve).
      solver: the training solve (and, unless ``eval_solver`` is given, every other one).
      eval_solver: the solve of ``log_prob``, ``sample`` and the evaluation metrics.
      divergence: "exact" or "hutchinson", for the training loss.
      eval_divergence: "exact", "hutchinson" or "auto" (exact when ``d <= 256``), for
        ``log_prob``.
      probe: "gaussian" or "rademacher" Hutchinson probe.
      time_length: ``T`` (FFJORD's ``time_length``, 0.5 on toys).
      train_time: learn ``T = sqrt_time^2`` (FFJORD's ``train_T``).
      kinetic_weight, jacobian_weight: RNODE regulariser weights (0 leaves them out).
    """

    def __init__(
        self,
        net: nn.Module,
        event_shape: tuple[int, ...],
        *,
        solver: ODESolverConfig = ODESolverConfig("dopri5", rtol=1e-5, atol=1e-5, dt0="auto"),
        eval_solver: ODESolverConfig | None = None,
        divergence: str = "exact",
        eval_divergence: str = "auto",
        probe: str = "gaussian",
        time_length: float = 0.5,
        train_time: bool = True,
        kinetic_weight: float = 0.0,
        jacobian_weight: float = 0.0,
    ):
        if divergence not in DIVERGENCES:
            raise ValueError(f"divergence must be one of {list(DIVERGENCES)}, got {divergence!r}")
        if eval_divergence not in (*DIVERGENCES, "auto"):
            raise ValueError(f"eval_divergence must be one of {[*DIVERGENCES, 'auto']}, got {eval_divergence!r}")
        if probe not in PROBES:
            raise ValueError(f"probe must be one of {list(PROBES)}, got {probe!r}")
        if not time_length > 0:
            raise ValueError(f"time_length must be > 0, got {time_length}")
        self.net = net
        self.event_shape = tuple(event_shape)
        self.dim = math.prod(self.event_shape)
        self.solver = solver
        self.eval_solver = eval_solver or solver
        self.divergence = divergence
        if eval_divergence == "auto":
            eval_divergence = "exact" if self.dim <= AUTO_EXACT_MAX_DIM else "hutchinson"
        self.eval_divergence = eval_divergence
        # Exact up to the solver's tolerance with the exact trace; Hutchinson's trace makes
        # log_prob an unbiased estimate of the log-det (not of log p).
        self.log_prob_kind = "exact" if eval_divergence == "exact" else "estimate"
        self.probe = probe
        self.time_length = float(time_length)
        self.train_time = train_time
        self.kinetic_weight = float(kinetic_weight)
        self.jacobian_weight = float(jacobian_weight)
        self.base = StandardNormal((self.dim,))

    # -- parameters and the field ---------------------------------------------------------------

    def init(self, key: jax.Array, batch: dict) -> dict:
        x = self._flat(batch["x"])
        params = {"net": self.net.init(key, x, jnp.zeros((), x.dtype))}
        if self.train_time:
            params["sqrt_time"] = jnp.sqrt(jnp.asarray(self.time_length, jnp.float32))
        return params

    def end_time(self, params) -> jax.Array:
        """``T``: the learned ``sqrt_time^2`` or the fixed ``time_length``."""
        if self.train_time:
            return params["sqrt_time"] ** 2
        return jnp.asarray(self.time_length)

    def _field(self, s, x, args):
        net_params, end = args
        return end * self.net.apply(net_params, x, jnp.asarray(s * end, x.dtype))

    def _flat(self, x):
        return jnp.reshape(x, (x.shape[0], self.dim))

    def _args(self, params):
        return (params["net"], self.end_time(params))

    # -- densities ----------------------------------------------------------------------------

    def _encode(self, params, x, key, div, cfg, regularise=False):
        """Data -> base: ``(state at s=1, nfe)`` with ``logdet = log|det dz/dx|``."""
        probe = None
        if div == "hutchinson":
            key = jax.random.key(0) if key is None else key
            probe = sample_probe(key, x.shape, self.probe, x.dtype)
        return integrate_with_log_det(self._field, x, 0.0, 1.0, cfg, args=self._args(params), div=div,
                                      probe=probe, regularise=regularise)

    def log_prob_with_stats(self, params, x: jax.Array, key: jax.Array | None = None, *,
                            divergence: str | None = None) -> tuple[jax.Array, dict]:
        """``(log p(x) [batch], {"nfe"})`` with ``eval_divergence`` unless ``divergence`` is given."""
        div = divergence or self.eval_divergence
        x = self._flat(x)
        state, nfe = self._encode(params, x, key, div, self.eval_solver)
        return self.base.log_prob(state["x"]) + state["logdet"], {"nfe": nfe}

    def log_prob(self, params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """``log p(x)`` ``[batch]`` in nats, by the change of variables through the ODE.

        Exact (up to the solver's tolerance) with the exact trace, which ``eval_divergence =
        "auto"`` picks for ``d <= 256``; with "hutchinson" it is an unbiased estimate of
        ``log p(x)`` (the probe drawn from ``key``, or a fixed key when ``key`` is None).
        """
        return self.log_prob_with_stats(params, x, key)[0]

    def loss(self, params, batch: dict, key: jax.Array):
        """``-mean log p(x)`` with the training divergence, plus weighted RNODE terms."""
        x = self._flat(batch["x"])
        regularise = self.kinetic_weight > 0 or self.jacobian_weight > 0
        state, nfe = self._encode(params, x, key, self.divergence, self.solver, regularise)
        nll = -jnp.mean(self.base.log_prob(state["x"]) + state["logdet"])
        loss = nll
        metrics = {"nll": nll, "nfe": nfe.astype(jnp.float32), "end_time": self.end_time(params)}
        if regularise:
            # The solve runs on s in [0, 1]: int_0^T ||g||^2 dt = (1/T) int_0^1 ||T g||^2 ds.
            end = self.end_time(params)
            kinetic = jnp.mean(state["kinetic"]) / end
            sq_jac = jnp.mean(state["sq_jac"]) / end
            loss = loss + self.kinetic_weight * kinetic + self.jacobian_weight * sq_jac
            metrics.update(kinetic=kinetic, jac_frob=sq_jac)
        return loss, metrics

    # -- sampling -------------------------------------------------------------------------------

    samplers = ODE_SAMPLERS

    def _decode_cfg(self, sampler):
        return ode_config(self.parse_sampler(sampler), self.eval_solver)

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None,
                          z: jax.Array | None = None):
        """Base draws integrated from ``T`` to ``0``: ``(x [num, *event], {"nfe"})``.

        ``sampler``: "default" (the eval solver), an adaptive solver name ("tsit5") or a fixed
        grid ("heun@20").
        """
        z = self.base.sample(key, num) if z is None else self._flat(z)
        x, nfe = odeint(self._field, z, 1.0, 0.0, self._decode_cfg(sampler), args=self._args(params))
        return jnp.reshape(x, (num, *self.event_shape)), {"nfe": nfe}

    def sample_and_log_prob(self, params, key: jax.Array, num: int, *, sampler: str | None = None):
        """Samples and their log-density from the same backward solve (exact trace).

        ``log p(x) = log N(z) - log|det dx/dz|`` with the log-det integrated along the sampling
        path itself; ``log_prob(sample)`` recomputes it by the forward solve.
        """
        z = self.base.sample(key, num)
        state, nfe = integrate_with_log_det(self._field, z, 1.0, 0.0, self._decode_cfg(sampler),
                                            args=self._args(params), div="exact")
        # Integrating backwards accumulates int_1^0 tr ds = -log|det dz/dx| = log|det dx/dz|.
        logp = self.base.log_prob(z) - state["logdet"]
        return jnp.reshape(state["x"], (num, *self.event_shape)), logp, {"nfe": nfe}

    def trajectories(self, params, key: jax.Array, num: int, *, points: int = 33,
                     sampler: str | None = None) -> jax.Array:
        """Sample paths from noise (first) to data (last): ``[points, num, *event]``."""
        z = self.base.sample(key, num)
        ts = jnp.linspace(1.0, 0.0, points)
        xs, _ = odeint(self._field, z, 1.0, 0.0, self._decode_cfg(sampler), args=self._args(params), save_ts=ts)
        return jnp.reshape(xs, (points, num, *self.event_shape))

    # -- evaluation -----------------------------------------------------------------------------

    def extra_metrics(self, params, key: jax.Array, batch: dict) -> dict:
        """NFE of ``log_prob``'s solve, which trace it used, ``T``, and the RNODE terms on ``batch``.

        The RNODE integrals come from a second solve that carries them in its state (extra state
        changes the adaptive steps, so ``logp_nfe`` is measured without them).
        """
        x = self._flat(batch["x"])
        _, stats = self.log_prob_with_stats(params, x, key)
        state, _ = self._encode(params, x, key, self.eval_divergence, self.eval_solver, regularise=True)
        end = self.end_time(params)
        return {
            "logp_nfe": stats["nfe"],
            "logp_exact_trace": jnp.float32(self.eval_divergence == "exact"),
            "end_time": end,
            "kinetic": jnp.mean(state["kinetic"]) / end,
            "jac_frob": jnp.mean(state["sq_jac"]) / end,
        }
