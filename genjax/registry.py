"""Config names to model builders: the only place a string picks a model.

Each family package exposes ``MODELS: dict[str, builder]`` where
``builder(model_config, dataset) -> Model``; this module collects them. Families are imported
only when a name is looked up, so using one family never imports the others' dependencies.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from genjax.errors import ConfigError

FAMILY_PACKAGES = (
    "genjax.flow_matching",
    "genjax.bijectors",
    "genjax.continuous",
    "genjax.diffusion",
    "genjax.vae",
    "genjax.consistency",
    "genjax.bridge",
)


def _all_models() -> dict[str, Callable[..., Any]]:
    models: dict[str, Callable[..., Any]] = {}
    for package in FAMILY_PACKAGES:
        if importlib.util.find_spec(package) is None:
            continue
        module = importlib.import_module(package)
        for name, builder in getattr(module, "MODELS", {}).items():
            if name in models:
                raise RuntimeError(f"model name {name!r} is registered by two families")
            models[name] = builder
    return models


def list_models() -> list[str]:
    return sorted(_all_models())


def build_model(model_config, dataset) -> Any:
    """The Model named by ``model_config.name``, built for ``dataset``."""
    models = _all_models()
    name = model_config.name
    if name not in models:
        raise ConfigError(f"config key 'model.name' = {name!r} is not a model; known: {', '.join(sorted(models))}")
    return models[name](model_config, dataset)
