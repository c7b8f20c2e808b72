"""Experiment configs: the shared defaults, command-line overrides and validation.

An experiment module defines ``get_config()`` returning ``default_config()`` with its own
changes; ``--config.train.steps=2000`` style overrides are applied on top. Every key a user
can set is checked here (generic keys) or by the family's builder (``model.*``) and a bad one
raises ``ConfigError`` naming the key and what is allowed.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import math
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import ml_collections

from genjax.errors import ConfigError

SCHEDULES = ("constant", "cosine", "linear")  # all take an optional linear warmup
OPTIMIZERS = ("adam", "adamw", "sgd", "lamb")


def default_config() -> ml_collections.ConfigDict:
    """The keys every experiment has, with their defaults."""
    c = ml_collections.ConfigDict()
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.name = "moons"
    c.data.batch_size = 256
    # Options passed to the dataset constructor (e.g. image scale, data_dir, download).
    c.data.options = ml_collections.ConfigDict()

    c.model = ml_collections.ConfigDict()
    c.model.name = "flow_matching"

    c.train = ml_collections.ConfigDict()
    c.train.steps = 10_000
    c.train.optimizer = "adam"
    c.train.lr = 1e-3
    c.train.schedule = "cosine"
    c.train.warmup_steps = 0
    c.train.end_lr_factor = 0.0  # final lr = lr * end_lr_factor for decaying schedules
    c.train.weight_decay = 0.0
    c.train.b1 = 0.9
    c.train.b2 = 0.999
    c.train.grad_clip = 0.0  # global-norm clipping; 0 disables
    c.train.ema_decay = 0.999  # 0 keeps EMA params equal to the params
    c.train.steps_per_dispatch = 1  # k > 1 runs k steps per jitted call with lax.scan
    c.train.num_seeds = 1  # N > 1 trains N independent models at once with jax.vmap
    c.train.log_every = 100
    c.train.eval_every = 0  # 0: evaluate only at the end
    c.train.checkpoint_every = 1000
    c.train.keep_checkpoints = 2
    c.train.plot = True
    c.train.progress = True

    c.eval = ml_collections.ConfigDict()
    c.eval.use_ema = True
    c.eval.num_samples = 2000
    c.eval.repeats = 3
    c.eval.batch_size = 500  # for log-likelihood evaluation on held-out data
    c.eval.samplers = ("default",)  # family-specific sampler specs, each evaluated
    c.eval.mmd = True

    c.sample = ml_collections.ConfigDict()
    c.sample.num = 1000
    c.sample.sampler = "default"
    c.sample.seed = 0
    return c


# ---------------------------------------------------------------------------------------------
# checks


def _positive_int(v):
    return isinstance(v, int) and v >= 1


def _nonneg_int(v):
    return isinstance(v, int) and v >= 0


def _positive_float(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _nonneg_float(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v >= 0


def _unit_interval_open_right(v):
    return isinstance(v, (int, float)) and 0 <= v < 1


def one_of(options) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in options), f"one of {list(options)}"


GENERIC_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (lambda v: isinstance(v, int) and 0 <= v < 2**31, "an integer in [0, 2^31)"),
    "data.batch_size": (_positive_int, "an integer >= 1"),
    "train.steps": (_positive_int, "an integer >= 1"),
    "train.optimizer": one_of(OPTIMIZERS),
    "train.lr": (_positive_float, "a float > 0"),
    "train.schedule": one_of(SCHEDULES),
    "train.warmup_steps": (_nonneg_int, "an integer >= 0"),
    "train.end_lr_factor": (lambda v: 0 <= v <= 1, "a float in [0, 1]"),
    "train.weight_decay": (_nonneg_float, "a float >= 0"),
    "train.b1": (_unit_interval_open_right, "a float in [0, 1)"),
    "train.b2": (_unit_interval_open_right, "a float in [0, 1)"),
    "train.grad_clip": (_nonneg_float, "a float >= 0 (0 disables clipping)"),
    "train.ema_decay": (_unit_interval_open_right, "a float in [0, 1)"),
    "train.steps_per_dispatch": (_positive_int, "an integer >= 1"),
    "train.num_seeds": (_positive_int, "an integer >= 1"),
    "train.log_every": (_positive_int, "an integer >= 1"),
    "train.eval_every": (_nonneg_int, "an integer >= 0 (0: only at the end)"),
    "train.checkpoint_every": (_positive_int, "an integer >= 1"),
    "train.keep_checkpoints": (_positive_int, "an integer >= 1"),
    "eval.num_samples": (_positive_int, "an integer >= 1"),
    "eval.repeats": (_positive_int, "an integer >= 1"),
    "eval.batch_size": (_positive_int, "an integer >= 1"),
    "sample.num": (_positive_int, "an integer >= 1"),
    "sample.seed": (_nonneg_int, "an integer >= 0"),
}


def lookup(config: ml_collections.ConfigDict, path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            raise ConfigError(_unknown_key_message(config, path))
        node = node[part]
    return node


def all_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in config.items():
        path = f"{prefix}{k}"
        if isinstance(v, ml_collections.ConfigDict):
            keys.extend(all_keys(v, path + "."))
        else:
            keys.append(path)
    return keys


def _unknown_key_message(config, path: str) -> str:
    known = all_keys(config)
    close = difflib.get_close_matches(path, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    section = path.rsplit(".", 1)[0] if "." in path else ""
    siblings = [k for k in known if section and k.startswith(section + ".")]
    listing = f" Keys under '{section}': {', '.join(siblings)}." if siblings and not close else ""
    return f"config key '{path}' does not exist{hint}{listing}"


def check_value(path: str, value: Any, check: Callable[[Any], bool], allowed: str) -> None:
    try:
        ok = bool(check(value))
    except Exception:
        ok = False
    if not ok:
        raise ConfigError(f"config key '{path}' = {value!r} is not allowed: expected {allowed}")


class SectionReader:
    """Reads a family's config section (``model.*``) with defaults and one-line checks.

    ``get(name, default, check=None, allowed="")`` returns the value (the default when the key
    is absent) after checking it; ``finish()`` rejects keys the family did not read, so a typo
    in an experiment file is as loud as one on the command line.
    """

    def __init__(self, section: ml_collections.ConfigDict, prefix: str):
        self.section = section
        self.prefix = prefix
        self.read: set[str] = {"name"}

    def get(self, name: str, default: Any, check: Callable[[Any], bool] | None = None, allowed: str = ""):
        self.read.add(name)
        value = self.section.get(name, default)
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if check is None and default is not None:
            check = _same_kind(default)
            allowed = allowed or f"a value of type {type(default).__name__}"
        if check is not None:
            check_value(f"{self.prefix}.{name}", value, check, allowed)
        return value

    def finish(self) -> None:
        unused = sorted(set(self.section.keys()) - self.read)
        if unused:
            raise ConfigError(
                f"config key '{self.prefix}.{unused[0]}' is not used by {self.prefix} "
                f"'{self.section.get('name')}'; its keys: {', '.join(sorted(self.read))}"
            )


def _same_kind(default):
    if isinstance(default, bool):
        return lambda v: isinstance(v, bool)
    if isinstance(default, int):
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if isinstance(default, float):
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    return lambda v: isinstance(v, type(default))


def validate(config: ml_collections.ConfigDict) -> None:
    """Check the generic keys, the dataset name and the model name (families check model.*)."""
    from genjax import data, registry  # the boundary: names to datasets and model builders

    for path, (check, allowed) in GENERIC_CHECKS.items():
        check_value(path, lookup(config, path), check, allowed)
    known = data.list_datasets()
    name = config.data.name
    if name not in known and not str(name).startswith("tfds:"):
        raise ConfigError(f"config key 'data.name' = {name!r} is not a dataset; known: {', '.join(known)}")
    if config.model.name not in registry.list_models():
        raise ConfigError(
            f"config key 'model.name' = {config.model.name!r} is not a model; "
            f"known: {', '.join(registry.list_models())}"
        )
    for path in ("eval.samplers",):
        value = lookup(config, path)
        if not isinstance(value, (tuple, list)) or not all(isinstance(s, str) for s in value):
            raise ConfigError(f"config key '{path}' = {value!r} is not allowed: expected a tuple of strings")


# ---------------------------------------------------------------------------------------------
# loading and overriding


def load_config_file(path: str | pathlib.Path) -> ml_collections.ConfigDict:
    """Imports a config file (an experiment module) and returns its ``get_config()``."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist (see `genjax list` for experiments)")
    name = f"_genjax_config_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file '{path}' defines no get_config()")
    return module.get_config()


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _parse_like(text: str, current: Any) -> Any:
    if isinstance(current, bool):
        return _parse_bool(text)
    if isinstance(current, int):
        value = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(text)
            value = int(value)
        return value
    if isinstance(current, float):
        return float(text)
    if isinstance(current, str):
        return text
    if isinstance(current, (tuple, list)):
        text = text.strip()
        if text.startswith(("(", "[")):
            items = list(ast.literal_eval(text))
        else:
            items = [s.strip() for s in text.split(",") if s.strip()]
        if current:
            items = [_parse_like(str(i), current[0]) if isinstance(i, str) else i for i in items]
        else:
            items = [_literal_or_str(i) if isinstance(i, str) else i for i in items]
        return tuple(items)
    return _literal_or_str(text)


def _literal_or_str(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_override(config: ml_collections.ConfigDict, path: str, text: str) -> None:
    """Sets ``config.<path>`` from a command-line string, parsed like the current value."""
    parent_path, _, leaf = path.rpartition(".")
    parent = lookup(config, parent_path) if parent_path else config
    if not isinstance(parent, ml_collections.ConfigDict) or leaf not in parent:
        raise ConfigError(_unknown_key_message(config, path))
    current = parent[leaf]
    if isinstance(current, ml_collections.ConfigDict):
        raise ConfigError(f"config key '{path}' is a section; set one of its keys, e.g. '{path}.<key>'")
    try:
        value = _parse_like(text, current)
    except (ValueError, SyntaxError):
        kind = type(current).__name__
        raise ConfigError(f"config key '{path}' expects a {kind} (current value {current!r}); got {text!r}") from None
    try:
        with parent.unlocked():
            parent[leaf] = value
    except TypeError:
        kind = type(current).__name__
        raise ConfigError(f"config key '{path}' expects a {kind} (current value {current!r}); got {text!r}") from None
