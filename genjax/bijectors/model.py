"""Flow models trained by maximum likelihood, as genjax Models."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genjax.distributions import Flow
from genjax.model import ModelBase
from genjax.ode import SamplerKind, SamplerTable

# A flow samples one way (a base draw pushed forward); ``default:temperature=0.7`` scales the
# base draws.
FLOW_SAMPLERS = SamplerTable(default=SamplerKind(options={"temperature": float}, steps="none",
                                                 doc="base draw -> forward, optionally at a temperature"))


class FlowModel(ModelBase):
    """``loss = -mean log p(x)`` over a batch, for any ``Flow``.

    ``log_prob`` is **exact** (change of variables) for every bijector in the library except a
    residual flow evaluated with a stochastic log-det estimator (``eval_flow`` with
    ``logdet="series"``/``"roulette"``), where it is an estimate. ``sample`` draws from the base
    and runs the bijector forward (sequential for MAF, a fixed-point solve for residual blocks).

    Args:
      flow: the flow trained (its log-det may be a stochastic estimate, fed by the step's key).
      eval_flow: the flow used by ``log_prob`` (same variables; e.g. a residual flow with the
        exact log-det); defaults to ``flow``.
    """

    samplers = FLOW_SAMPLERS

    def __init__(self, flow: Flow, *, eval_flow: Flow | None = None, log_prob_kind: str = "exact"):
        self.flow = flow
        self.eval_flow = eval_flow if eval_flow is not None else flow
        self.log_prob_kind = log_prob_kind

    @property
    def event_shape(self):
        return self.flow.base.event_shape

    def init(self, key: jax.Array, batch: dict):
        """Variables initialised on the data batch (normalizing direction: ActNorm sees data)."""
        return self.flow.init(key, batch["x"])

    def loss(self, params, batch: dict, key: jax.Array):
        nll = -jnp.mean(self.flow.log_prob(params, batch["x"], key=key))
        return nll, {"nll": nll}

    def log_prob(self, params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """Exact ``log p(x)`` per example ``[batch]`` (see the class docstring for the exception)."""
        return self.eval_flow.log_prob(params, x, key=key)

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None,
                          temperature: float | None = None):
        """``(num draws [num, *event], {})``; ``temperature`` (or the spec's option) scales the base draws."""
        spec = self.parse_sampler(sampler)
        t = spec.get("temperature", 1.0) if temperature is None else temperature
        return self.flow.sample(params, key, num, temperature=t), {}
