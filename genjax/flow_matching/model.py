"""Conditional flow matching (Lipman et al. 2023; Tong et al. 2024) as a genjax Model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.continuous.ode import SOLVERS, ODESolverConfig, odeint
from genjax.distributions import StandardNormal
from genjax.flow_matching.paths import AffinePath, LinearPath

Coupling = Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
TIME_SAMPLING = ("uniform", "stratified")


def independent_coupling(key: jax.Array, x0: jax.Array, x1: jax.Array):
    """Pairs each source draw with the data point beside it: the product coupling."""
    del key
    return x0, x1


def parse_sampler(spec: str | None, default: ODESolverConfig) -> ODESolverConfig:
    """``"tsit5"`` (adaptive), ``"euler@20"`` / ``"heun@10"`` (fixed steps), or None (default)."""
    if spec is None or spec == "default":
        return default
    name, _, steps = spec.partition("@")
    if name not in SOLVERS:
        raise ValueError(f"unknown sampler {spec!r}: use one of {sorted(SOLVERS)}, optionally '@steps'")
    if steps:
        if not steps.isdigit() or int(steps) < 1:
            raise ValueError(f"sampler {spec!r}: the step count after '@' must be a positive integer")
        return default.replace(solver=name, steps=int(steps), fixed_grid=True)
    return default.replace(solver=name, fixed_grid=False)


class FlowMatching:
    """Learns a velocity field ``v(x, t)`` whose ODE carries the source (t=0) to the data (t=1).

    Args:
      net: Linen module called as ``net(x [batch, *event], t [batch], label [batch] | None)``.
      event_shape: shape of one example.
      path: the conditional probability path (``LinearPath`` by default).
      coupling: ``(key, x0, x1) -> (x0, x1)`` pairing of source and data batches.
      source: distribution with ``sample(key, num)``; N(0, I) by default.
      time_sampling: "uniform" i.i.d. times, or "stratified" (one time per 1/batch stratum,
        randomly shifted: same marginal, lower-variance gradient).
      solver: default ODE solve for ``sample``.
    """

    def __init__(
        self,
        net: nn.Module,
        event_shape: tuple[int, ...],
        *,
        path: AffinePath = LinearPath(),
        coupling: Coupling = independent_coupling,
        source: Any = None,
        time_sampling: str = "uniform",
        solver: ODESolverConfig = ODESolverConfig(),
    ):
        if time_sampling not in TIME_SAMPLING:
            raise ValueError(f"time_sampling must be one of {TIME_SAMPLING}, got {time_sampling!r}")
        self.net = net
        self.event_shape = tuple(event_shape)
        self.path = path
        self.coupling = coupling
        self.source = source if source is not None else StandardNormal(self.event_shape)
        self.time_sampling = time_sampling
        self.solver = solver

    def init(self, key: jax.Array, batch: dict) -> Any:
        x = batch["x"]
        return self.net.init(key, x, jnp.zeros(x.shape[:1]), batch.get("label"))

    def velocity(self, params, x: jax.Array, t: jax.Array, label: jax.Array | None = None):
        """``v(x, t)``: ``x [batch, *event]``, ``t`` scalar or ``[batch]``."""
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        return self.net.apply(params, x, t, label)

    def _times(self, key, n):
        u = jax.random.uniform(key, (n,))
        if self.time_sampling == "stratified":
            return (u[:1] + jnp.arange(n) / n) % 1.0
        return u

    def loss(self, params, batch: dict, key: jax.Array):
        x1 = batch["x"]
        n = x1.shape[0]
        k_src, k_cpl, k_t = jax.random.split(key, 3)
        x0 = self.source.sample(k_src, n)
        x0, x1 = self.coupling(k_cpl, x0, x1)
        t = self._times(k_t, n)
        xt = self.path.sample(x0, x1, t)
        target = self.path.velocity(x0, x1, t)
        err = self.velocity(params, xt, t, batch.get("label")) - target
        per_example = jnp.mean(jnp.reshape(err**2, (n, -1)), axis=-1)
        loss = jnp.mean(per_example)
        return loss, {"fm_loss": loss}

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None,
                          label: jax.Array | None = None, x0: jax.Array | None = None):
        """Solve the ODE from source draws; returns ``(x [num, *event], {"nfe": int})``."""
        cfg = parse_sampler(sampler, self.solver)
        if x0 is None:
            x0 = self.source.sample(key, num)
        x1, nfe = odeint(lambda t, x, _: self.velocity(params, x, t, label), x0, 0.0, 1.0, cfg)
        return x1, {"nfe": nfe}

    def sample(self, params, key: jax.Array, num: int, **opts):
        return self.sample_with_stats(params, key, num, **opts)[0]
