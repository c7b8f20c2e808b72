"""The Model contract: what the trainer, CLI, checkpoints, evaluation and benchmarks may rely on.

A model is a plain object holding Linen modules and hyper-parameters; its methods are pure
functions of a params pytree::

    params        = model.init(key, batch)                     # batch = {"x": [B, *event], "label": [B]?}
    loss, metrics = model.loss(params, batch, key)             # scalar, flat dict of scalars
    x, stats      = model.sample_with_stats(params, key, num, sampler="heun@8")   # stats: {"nfe": ...} or {}
    x             = model.sample(params, key, num, **opts)
    logp          = model.log_prob(params, x, key=None)        # only if log_prob_kind is not None
    extra         = model.extra_metrics(params, key, batch)    # family-specific numbers, may be {}
    paths         = model.plot_extras(params, key, dataset, directory, tag)   # family-specific plots, may be []

Declarations read by evaluation (never ``hasattr``):

- ``samplers``: the ``SamplerTable`` of the specs ``sample`` accepts (``genjax.ode.spec``).
- ``log_prob_kind``: ``"exact"`` (change of variables, exact up to solver tolerance),
  ``"bound"`` (a lower bound on ``log p``: ELBO, IWAE, variational bound) or ``"estimate"``
  (stochastic, e.g. a power-series log-det), or ``None`` when the family has no density.
- ``log_prob_discrete``: True when ``log_prob`` is the log-probability of discrete values the
  model derives from ``x`` (binarised pixels), not a density of ``x``: bits/dim then takes no
  dequantization offset.

Multi-network models (a GAN's generator and discriminator, a consistency model's target
network, a bridge's two directions) keep their networks as groups of one params dict and declare
``update_plan``: the gradient updates one train step makes, in order, each of one group with that
group's optimiser (``Update``); groups no update names (a target network, a frozen copy) change
only in ``after_update(params, step)``. See ``genjax.train.step.make_train_step``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax

from genjax.ode.spec import SamplerSpec, SamplerTable

LOG_PROB_KINDS = ("exact", "bound", "estimate")
DEFAULT_SAMPLERS = SamplerTable()


@dataclasses.dataclass(frozen=True)
class Update:
    """One gradient update inside a train step of a multi-group model.

    Attributes:
      group: the key of the params dict this update changes (its optimiser is the group's).
      loss: the name of the model method giving the loss,
        ``(params, batch, key, step) -> (scalar, metrics)``; its gradient is taken with respect to
        ``params[group]`` only, the other groups held fixed at their current values.
      repeats: how many times in a row (e.g. ``n_critic`` discriminator updates per generator
        update); each repeat draws its own key.
      when: the name of a model method ``(step) -> bool scalar`` saying whether the update is made
        at this step (a generator updated every other step, a bridge's two directions trained in
        alternating phases), or None for every step. Skipped, the group's parameters and optimiser
        state are unchanged and the update's metrics are 0, with ``<group>/active`` = 0.
    """

    group: str
    loss: str
    repeats: int = 1
    when: str | None = None

    def __post_init__(self):
        if self.repeats < 1:
            raise ValueError(f"Update.repeats must be >= 1, got {self.repeats}")


@runtime_checkable
class Model(Protocol):
    samplers: SamplerTable
    log_prob_kind: str | None

    def init(self, key: jax.Array, batch: dict) -> Any: ...

    def loss(self, params: Any, batch: dict, key: jax.Array) -> tuple[jax.Array, dict]: ...

    def sample_with_stats(self, params: Any, key: jax.Array, num: int, **opts) -> tuple[jax.Array, dict]: ...

    def sample(self, params: Any, key: jax.Array, num: int, **opts) -> jax.Array: ...

    def extra_metrics(self, params: Any, key: jax.Array, batch: dict) -> dict: ...

    def plot_extras(self, params: Any, key: jax.Array, dataset: Any, directory: Any, tag: str) -> list: ...


class ModelBase:
    """Defaults of the optional parts of the contract; families subclass it.

    A subclass defines ``init``, ``loss`` and ``sample_with_stats``; ``log_prob`` when it sets
    ``log_prob_kind``; ``extra_metrics`` when it has numbers of its own.
    """

    samplers: SamplerTable = DEFAULT_SAMPLERS
    log_prob_kind: str | None = None
    log_prob_discrete: bool = False
    # None: one parameter set trained on ``loss``; else the updates of one train step, in order.
    update_plan: tuple[Update, ...] | None = None

    def after_update(self, params, step: jax.Array):
        """Non-gradient changes after a step's updates (target networks, frozen copies);
        ``step`` is the number of steps done, this one included."""
        return params

    @property
    def param_groups(self) -> tuple[str, ...]:
        """The groups that have an optimiser: those the update plan names, in order."""
        if self.update_plan is None:
            return ()
        return tuple(dict.fromkeys(u.group for u in self.update_plan))

    def sample(self, params, key: jax.Array, num: int, **opts) -> jax.Array:
        return self.sample_with_stats(params, key, num, **opts)[0]

    def extra_metrics(self, params, key: jax.Array, batch: dict) -> dict:
        return {}

    def plot_extras(self, params, key: jax.Array, dataset, directory, tag: str) -> list:
        """Plots of the family's own (reconstructions, ...) written into ``directory`` next to the
        trainer's sample plot, ``tag`` naming the step; returns the paths written."""
        return []

    def parse_sampler(self, sampler: str | SamplerSpec | None) -> SamplerSpec:
        """The validated spec (``None`` and "default" give the default spec)."""
        return self.samplers.parse(sampler)


def contract_violations(model: Any) -> list[str]:
    """What ``model`` lacks of the contract (empty when it meets it)."""
    problems = []
    for name in ("init", "loss", "sample_with_stats", "sample", "extra_metrics", "plot_extras", "after_update"):
        if not callable(getattr(model, name, None)):
            problems.append(f"no method {name}()")
    for update in getattr(model, "update_plan", None) or ():
        if not isinstance(update, Update) or not callable(getattr(model, update.loss, None)):
            problems.append(f"update {update!r} names no loss method of the model")
        elif update.when is not None and not callable(getattr(model, update.when, None)):
            problems.append(f"update {update!r} names no method {update.when!r} of the model")
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
      uses_runs: the builder takes ``load_run``, a ``workdir -> (model, params)`` loader of other
        trained runs (a distillation teacher, a model to fine-tune), as
        ``build(model_config, dataset, load_run=...)``; the trainer passes it.
      leaderboard: the experiment that stands for the family in ``genjax leaderboard``, per kind
        of data (``"2d"``: 8gaussians and moons; ``"digits"``), or per dataset by name (which wins
        over its kind: an experiment tuned to that dataset); one model per family declares it.
        The leaderboard overrides data, budget, batch size and optimiser; a kind left out is a
        row saying the family does not model that data.
      leaderboard_overrides: config overrides (``"train.lr": 2e-4``) the family needs on top of
        the leaderboard's common settings; they are printed in the row's notes. ``"{steps}"`` in
        a value is replaced by the run's number of steps (``"model.total_steps": "{steps}"``).
    """

    build: Callable[..., Any]
    family: str
    summary: str
    samplers: SamplerTable = DEFAULT_SAMPLERS
    tiny: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    default_experiment: str | None = None
    uses_runs: bool = False
    leaderboard: Mapping[str, str] = dataclasses.field(default_factory=dict)
    leaderboard_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
