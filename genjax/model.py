"""The Model contract: what the trainer, CLI, checkpoints, evaluation and benchmarks may rely on.

A model is a plain object holding Linen modules and hyper-parameters; its methods are pure
functions of a params pytree::

    params        = model.init(key, batch)                     # batch = {"x": [B, *event], "label": [B]?}
    loss, metrics = model.loss(params, batch, key)             # scalar, flat dict of scalars
    x, stats      = model.sample_with_stats(params, key, num, sampler="heun@8")   # stats: {"nfe": ...} or {}
    x             = model.sample(params, key, num, **opts)
    logp          = model.log_prob(params, x, key=None)        # only if log_prob_kind is not None
    extra         = model.extra_metrics(params, key, batch)    # family-specific numbers, may be {}

Declarations read by evaluation (never ``hasattr``):

- ``samplers``: the ``SamplerTable`` of the specs ``sample`` accepts (``genjax.ode.spec``).
- ``log_prob_kind``: ``"exact"`` (change of variables, exact up to solver tolerance),
  ``"bound"`` (a lower bound on ``log p``: ELBO, IWAE, variational bound) or ``"estimate"``
  (stochastic, e.g. a power-series log-det), or ``None`` when the family has no density.

Multi-network models (a GAN's generator and discriminator, a consistency model's target
network) declare ``update_plan``; see ``genjax.train.step``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax

from genjax.ode.spec import SamplerSpec, SamplerTable

LOG_PROB_KINDS = ("exact", "bound", "estimate")
DEFAULT_SAMPLERS = SamplerTable()


@runtime_checkable
class Model(Protocol):
    samplers: SamplerTable
    log_prob_kind: str | None

    def init(self, key: jax.Array, batch: dict) -> Any: ...

    def loss(self, params: Any, batch: dict, key: jax.Array) -> tuple[jax.Array, dict]: ...

    def sample_with_stats(self, params: Any, key: jax.Array, num: int, **opts) -> tuple[jax.Array, dict]: ...

    def sample(self, params: Any, key: jax.Array, num: int, **opts) -> jax.Array: ...

    def extra_metrics(self, params: Any, key: jax.Array, batch: dict) -> dict: ...


class ModelBase:
    """Defaults of the optional parts of the contract; families subclass it.

    A subclass defines ``init``, ``loss`` and ``sample_with_stats``; ``log_prob`` when it sets
    ``log_prob_kind``; ``extra_metrics`` when it has numbers of its own.
    """

    samplers: SamplerTable = DEFAULT_SAMPLERS
    log_prob_kind: str | None = None

    def sample(self, params, key: jax.Array, num: int, **opts) -> jax.Array:
        return self.sample_with_stats(params, key, num, **opts)[0]

    def extra_metrics(self, params, key: jax.Array, batch: dict) -> dict:
        return {}

    def parse_sampler(self, sampler: str | SamplerSpec | None) -> SamplerSpec:
        """The validated spec (``None`` and "default" give the default spec)."""
        return self.samplers.parse(sampler)


def contract_violations(model: Any) -> list[str]:
    """What ``model`` lacks of the contract (empty when it meets it)."""
    problems = []
    for name in ("init", "loss", "sample_with_stats", "sample", "extra_metrics"):
        if not callable(getattr(model, name, None)):
            problems.append(f"no method {name}()")
    if not isinstance(getattr(model, "samplers", None), SamplerTable):
        problems.append("samplers is not a SamplerTable")
    kind = getattr(model, "log_prob_kind", "<missing>")
    if kind not in (None, *LOG_PROB_KINDS):
        problems.append(f"log_prob_kind {kind!r} is not one of {[None, *LOG_PROB_KINDS]}")
    elif kind is not None and not callable(getattr(model, "log_prob", None)):
        problems.append(f"log_prob_kind is {kind!r} but there is no log_prob()")
    return problems


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows of one model name.

    Attributes:
      build: ``build(model_config, dataset) -> Model``.
      family: the family package's short name ("flows", "diffusion", ...).
      summary: one line for ``genjax list``.
      samplers: the sampler specs the built model accepts (checked when a config is loaded).
      tiny: ``model.*`` settings of a small, fast instance (tests, quick runs).
      default_experiment: the experiment module that shows the model at its best on 2-D data.
    """

    build: Callable[..., Any]
    family: str
    summary: str
    samplers: SamplerTable = DEFAULT_SAMPLERS
    tiny: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    default_experiment: str | None = None
