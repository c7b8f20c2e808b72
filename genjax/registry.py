"""Config names to model builders: the only place a string picks a model.

Each family package exposes ``MODELS: dict[str, ModelEntry]``; this module collects them.
An entry declares, without building anything, what a config may be checked against at load
time: the builder, the sampler specs the model accepts, a one-line summary, the ``model.*``
overrides of a tiny version (used by the contract tests and quick runs), and the family's
default experiment. Families are imported only when a name is looked up.
"""

from __future__ import annotations

import importlib
from typing import Any

from genjax.errors import ConfigError
from genjax.model import ModelEntry

FAMILY_PACKAGES = (
    "genjax.bijectors",
    "genjax.continuous",
    "genjax.diffusion",
    "genjax.flow_matching",
    "genjax.bridge",
    "genjax.gan",
    "genjax.consistency",
    "genjax.vae",
)


def _all_models() -> dict[str, ModelEntry]:
    models: dict[str, ModelEntry] = {}
    for package in FAMILY_PACKAGES:
        module = importlib.import_module(package)
        for name, entry in getattr(module, "MODELS", {}).items():
            if name in models:
                raise RuntimeError(f"model name {name!r} is registered by two families")
            if not isinstance(entry, ModelEntry):
                raise RuntimeError(f"{package}.MODELS[{name!r}] is not a ModelEntry")
            models[name] = entry
    return models


def list_models() -> list[str]:
    return sorted(_all_models())


def entries() -> dict[str, ModelEntry]:
    return dict(sorted(_all_models().items()))


def entry(name: str) -> ModelEntry:
    models = _all_models()
    if name not in models:
        raise ConfigError(f"config key 'model.name' = {name!r} is not a model; known: {', '.join(sorted(models))}")
    return models[name]


def build_model(model_config, dataset, *, load_run=None) -> Any:
    """The Model named by ``model_config.name``, built for ``dataset``.

    ``load_run``: ``workdir -> (model, params)`` of another trained run, passed to the builders
    of models that depend on one (``ModelEntry.uses_runs``: a distillation teacher); the trainer
    supplies it, so families never import the trainer.
    """
    e = entry(model_config.name)
    if e.uses_runs:
        return e.build(model_config, dataset, load_run=load_run)
    return e.build(model_config, dataset)
