"""Experiment configs: the shared defaults, command-line overrides and validation.

An experiment module defines ``get_config()`` returning ``default_config()`` with its own
changes; ``--config.train.steps=2000`` style overrides are applied on top. Every key a user
can set is checked here (generic keys) or by the family's builder (``model.*``) and a bad one
raises ``ConfigError`` naming the key and what is allowed.
"""

from __future__ import annotations

import ast
import contextlib
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
    c.train.ema_warmup = False  # decay min(ema_decay, (1 + t) / (10 + t)) at update t
    c.train.steps_per_dispatch = 1  # k > 1 runs k steps per jitted call with lax.scan
    c.train.num_seeds = 1  # N > 1 trains N independent models at once with jax.vmap
    c.train.log_every = 100
    c.train.eval_every = 0  # 0: evaluate only at the end
    c.train.checkpoint_every = 1000
    c.train.keep_checkpoints = 2
    # Skip (and count) an update whose loss or gradients are not finite, instead of stopping.
    c.train.skip_nonfinite_updates = False
    c.train.plot = True
    c.train.progress = True
    # Per parameter group of a multi-network model (e.g. train.groups.disc.lr = 4e-4): optimiser
    # keys that differ from the train.* ones above for that group.
    c.train.groups = ml_collections.ConfigDict()

    # Where the state lives: a (data, fsdp) mesh over every device of every process.
    c.sharding = ml_collections.ConfigDict()
    c.sharding.fsdp = 1  # > 1: parameters and optimiser state split over this many devices (FSDP)
    c.sharding.min_size = 2**14  # arrays with fewer elements stay replicated

    c.eval = ml_collections.ConfigDict()
    c.eval.use_ema = True
    c.eval.num_samples = 2000
    c.eval.repeats = 3
    c.eval.batch_size = 500  # for log-likelihood evaluation on held-out data
    c.eval.max_test_examples = 0  # evaluate on the first N held-out examples (0: all of them)
    c.eval.samplers = ("default",)  # family-specific sampler specs, each evaluated
    c.eval.mmd = True
    c.eval.extra_metrics = True  # the model's own metrics (path energy, coupling cost, ...)

    c.sample = ml_collections.ConfigDict()
    c.sample.num = 1000
    c.sample.sampler = "default"
    c.sample.seed = 0
    return c


# One line per generic key, shown by `genjax config`.
KEY_DOCS = {
    "seed": "seed of the run: initial parameters, data order and every step's randomness",
    "data.name": "dataset (genjax list shows them; tfds:<name> for any tfds dataset)",
    "data.batch_size": "examples per training step (global, split across devices)",
    "train.steps": "training steps in all (may grow when a run is resumed)",
    "train.optimizer": f"one of {list(OPTIMIZERS)}",
    "train.lr": "peak learning rate",
    "train.schedule": f"learning-rate schedule after the warmup: one of {list(SCHEDULES)}",
    "train.warmup_steps": "linear warmup steps from 0 to train.lr",
    "train.end_lr_factor": "final learning rate of a decaying schedule, as a fraction of train.lr",
    "train.weight_decay": "decoupled weight decay (adamw, lamb)",
    "train.b1": "first-moment decay (adam family) or momentum (sgd)",
    "train.b2": "second-moment decay (adam family)",
    "train.grad_clip": "global gradient-norm clipping (0 disables it)",
    "train.ema_decay": "decay of the parameters' exponential moving average (evaluated when eval.use_ema)",
    "train.ema_warmup": "ramp the EMA decay as min(ema_decay, (1 + t) / (10 + t)): without it a short run's "
                        "average keeps ema_decay^t of the initial parameters (13.5 % at 0.999 after 2000 steps)",
    "train.steps_per_dispatch": "steps run per compiled call (lax.scan); more amortises dispatch for small models",
    "train.num_seeds": "independent runs trained at once (vmapped; seeds seed, seed+1, ...)",
    "train.log_every": "steps between lines of metrics.jsonl",
    "train.eval_every": "steps between evaluations during training (0: only at the end)",
    "train.checkpoint_every": "steps between checkpoints (and one at the end)",
    "train.keep_checkpoints": "how many of the newest checkpoints are kept",
    "train.skip_nonfinite_updates": "skip and count updates with a non-finite loss or gradient instead of stopping",
    "train.plot": "write sample plots into <workdir>/plots",
    "train.progress": "show a progress bar",
    "sharding.fsdp": "devices the large state arrays (params, optimiser state, EMA) are split over, FSDP-style; "
                     "1: replicated (plain data parallelism); must divide the device count",
    "sharding.min_size": "with sharding.fsdp > 1, arrays of fewer elements stay replicated",
    "eval.use_ema": "evaluate and sample with the EMA parameters",
    "eval.num_samples": "samples drawn per sampler for W2 / MMD (and test points for the 2-D sets)",
    "eval.repeats": "independent sample draws W2 is averaged over (standard errors reported)",
    "eval.batch_size": "test examples per log_prob call",
    "eval.max_test_examples": "evaluate on the first N held-out examples only (0: all); for quick checks",
    "eval.samplers": "sampler specs evaluated (each: W2, MMD, NFE)",
    "eval.mmd": "also report MMD^2 (costlier than W2)",
    "eval.extra_metrics": "also report the model's own metrics (extra_metrics: path energy, coupling cost, ...)",
    "sample.num": "samples `genjax sample` draws",
    "sample.sampler": "sampler spec of `genjax sample` (default: the model's own)",
    "sample.seed": "seed of `genjax sample`",
}

# While a `recording()` block is active, every key a family's builder reads is appended to it as
# ``(path, value used, given in the config, what is allowed)``: `genjax config` shows them.
_RECORDERS: list[list] = []


@contextlib.contextmanager
def recording():
    read: list = []
    _RECORDERS.append(read)
    try:
        yield read
    finally:
        _RECORDERS.pop()


# ---------------------------------------------------------------------------------------------
# checks: (predicate, what is allowed) pairs shared by the generic keys and every builder


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


POS_INT = (lambda v: _is_int(v) and v >= 1, "an integer >= 1")
NONNEG_INT = (lambda v: _is_int(v) and v >= 0, "an integer >= 0")
POS_FLOAT = (lambda v: _is_real(v) and v > 0, "a float > 0")
NONNEG_FLOAT = (lambda v: _is_real(v) and v >= 0, "a float >= 0")
UNIT_INTERVAL = (lambda v: _is_real(v) and 0 <= v < 1, "a float in [0, 1)")
UNIT_OPEN = (lambda v: _is_real(v) and 0 < v < 1, "a float in (0, 1)")
WIDTHS = (lambda v: isinstance(v, tuple) and len(v) > 0 and all(_is_int(w) and w >= 1 for w in v),
          "a tuple of positive ints")
FLOATS = (lambda v: isinstance(v, tuple) and all(_is_real(w) for w in v), "a tuple of floats")
EVEN_INT = (lambda v: _is_int(v) and v >= 2 and v % 2 == 0, "an even integer >= 2")


def one_of(options) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in options), f"one of {list(options)}"


def at_least(low, *, integer: bool = False) -> tuple[Callable[[Any], bool], str]:
    if integer:
        return (lambda v: _is_int(v) and v >= low), f"an integer >= {low}"
    return (lambda v: _is_real(v) and v >= low), f"a float >= {low}"


GENERIC_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (lambda v: _is_int(v) and 0 <= v < 2**31, "an integer in [0, 2^31)"),
    "data.batch_size": POS_INT,
    "train.steps": POS_INT,
    "train.optimizer": one_of(OPTIMIZERS),
    "train.lr": POS_FLOAT,
    "train.schedule": one_of(SCHEDULES),
    "train.warmup_steps": NONNEG_INT,
    "train.end_lr_factor": (lambda v: _is_real(v) and 0 <= v <= 1, "a float in [0, 1]"),
    "train.weight_decay": NONNEG_FLOAT,
    "train.b1": UNIT_INTERVAL,
    "train.b2": UNIT_INTERVAL,
    "train.grad_clip": (NONNEG_FLOAT[0], "a float >= 0 (0 disables clipping)"),
    "train.ema_decay": UNIT_INTERVAL,
    "train.steps_per_dispatch": POS_INT,
    "train.num_seeds": POS_INT,
    "train.log_every": POS_INT,
    "train.eval_every": (NONNEG_INT[0], "an integer >= 0 (0: only at the end)"),
    "train.checkpoint_every": POS_INT,
    "train.keep_checkpoints": POS_INT,
    "train.skip_nonfinite_updates": (lambda v: isinstance(v, bool), "True or False"),
    "sharding.fsdp": POS_INT,
    "sharding.min_size": POS_INT,
    "eval.num_samples": POS_INT,
    "eval.repeats": POS_INT,
    "eval.batch_size": POS_INT,
    "eval.max_test_examples": (NONNEG_INT[0], "an integer >= 0 (0: the whole held-out set)"),
    "sample.num": POS_INT,
    "sample.seed": NONNEG_INT,
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
    is absent) after checking it; ``section(name)`` reads a nested section (``model.ode``);
    ``finish()`` rejects keys the family did not read, so a typo in an experiment file is as
    loud as one on the command line. ``defaults`` records every key read with its default, for
    ``genjax config``.
    """

    def __init__(self, section: ml_collections.ConfigDict | None, prefix: str):
        self.values = section if section is not None else ml_collections.ConfigDict()
        self.prefix = prefix
        self.read: set[str] = {"name"} if prefix == "model" else set()
        self.defaults: dict[str, Any] = {}
        self._children: list[SectionReader] = []

    def get(self, name: str, default: Any, check: Callable[[Any], bool] | None = None, allowed: str = ""):
        self.read.add(name)
        self.defaults[name] = default
        value = self.values.get(name, default)
        if isinstance(value, ml_collections.ConfigDict):
            raise ConfigError(f"config key '{self.prefix}.{name}' is a value, not a section")
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(default, float) and _is_int(value):
            value = float(value)
        if check is None and default is not None:
            check = _same_kind(default)
            allowed = allowed or f"a value of type {type(default).__name__}"
        if check is not None:
            check_value(f"{self.prefix}.{name}", value, check, allowed)
        if _RECORDERS:
            _RECORDERS[-1].append((f"{self.prefix}.{name}", value, name in self.values, allowed))
        return value

    def section(self, name: str) -> SectionReader:
        """A reader of the nested section ``<prefix>.<name>`` (absent: all defaults)."""
        self.read.add(name)
        sub = self.values.get(name)
        if sub is not None and not isinstance(sub, ml_collections.ConfigDict):
            raise ConfigError(f"config key '{self.prefix}.{name}' is a section: set its keys, "
                              f"e.g. '{self.prefix}.{name}.<key>'")
        child = SectionReader(sub, f"{self.prefix}.{name}")
        self._children.append(child)
        return child

    def finish(self) -> None:
        for child in self._children:
            child.finish()
        unused = sorted(set(self.values.keys()) - self.read)
        if unused:
            known = {k: f"{self.prefix}.{k}" for k in sorted(self.read)}
            for child in self._children:  # a key written one level too high: model.solver -> model.ode.solver
                known.update({k: f"{child.prefix}.{k}" for k in sorted(child.read) if k not in known})
            close = difflib.get_close_matches(unused[0], list(known), n=1, cutoff=0.6)
            hint = f"; did you mean '{known[close[0]]}'?" if close else ""
            owner = f"{self.prefix} '{self.values.get('name')}'" if self.prefix == "model" else f"'{self.prefix}'"
            raise ConfigError(
                f"config key '{self.prefix}.{unused[0]}' is not used by {owner}{hint} "
                f"(its keys: {', '.join(sorted(self.read))})"
            )


def read_ode(r: SectionReader, default, name: str = "ode"):
    """The ``ODESolverConfig`` of section ``<prefix>.<name>``, every key defaulting to ``default``'s.

    Keys: ``solver`` (a name in ``genjax.ode.SOLVERS``), ``steps`` (fixed-step solves and the
    first step of adaptive ones), ``rtol``, ``atol``, ``max_steps``, ``adjoint`` ("recursive",
    "backsolve", "direct"), ``dt0`` (first step: "auto" for diffrax's heuristic, 0 for
    ``(t1 - t0) / steps``, or a float > 0).
    """
    from genjax.ode.solve import ADJOINTS, SOLVERS

    s = r.section(name)
    dt0_default = {None: 0.0, "auto": "auto"}.get(default.dt0, default.dt0)
    dt0 = s.get("dt0", dt0_default, lambda v: v == "auto" or _is_real(_float_or_none(v)) and _float_or_none(v) >= 0,
                "'auto' or a float >= 0 (0: (t1 - t0) / steps)")
    dt0 = dt0 if dt0 == "auto" else (float(dt0) or None)
    return default.replace(
        solver=s.get("solver", default.solver, *one_of(sorted(SOLVERS))),
        steps=s.get("steps", default.steps, *POS_INT),
        rtol=s.get("rtol", default.rtol, *POS_FLOAT),
        atol=s.get("atol", default.atol, *POS_FLOAT),
        max_steps=s.get("max_steps", default.max_steps, *POS_INT),
        adjoint=s.get("adjoint", default.adjoint, *one_of(ADJOINTS)),
        dt0=dt0,
    )


def _float_or_none(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


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
    check_group_optimizers(config)
    known = data.list_datasets()
    name = config.data.name
    if name not in known and not str(name).startswith("tfds:"):
        raise ConfigError(f"config key 'data.name' = {name!r} is not a dataset; known: {', '.join(known)}")
    if config.model.name not in registry.list_models():
        raise ConfigError(
            f"config key 'model.name' = {config.model.name!r} is not a model; "
            f"known: {', '.join(registry.list_models())}"
        )
    check_samplers(config)


GROUP_OPTIMIZER_KEYS = ("optimizer", "lr", "schedule", "warmup_steps", "end_lr_factor", "weight_decay", "b1", "b2",
                        "grad_clip")


def check_group_optimizers(config: ml_collections.ConfigDict) -> None:
    """``train.groups.<group>.<key>``: only optimiser keys, each checked like ``train.<key>``."""
    groups = config.train.get("groups", ml_collections.ConfigDict())
    for group, section in groups.items():
        if not isinstance(section, ml_collections.ConfigDict):
            raise ConfigError(f"config key 'train.groups.{group}' is a section: set e.g. 'train.groups.{group}.lr'")
        for key, value in section.items():
            if key not in GROUP_OPTIMIZER_KEYS:
                raise ConfigError(f"config key 'train.groups.{group}.{key}' is not an optimiser key; "
                                  f"allowed: {', '.join(GROUP_OPTIMIZER_KEYS)}")
            check_value(f"train.groups.{group}.{key}", value, *GENERIC_CHECKS[f"train.{key}"])


def sampler_keys(config: ml_collections.ConfigDict) -> list[tuple[str, Any]]:
    """``(path, value)`` of every key holding sampler specs: ``sample.sampler``, ``eval.samplers``
    and any ``model.*sampler*`` key (a family's default sampler)."""
    keys = [("sample.sampler", lookup(config, "sample.sampler")), ("eval.samplers", lookup(config, "eval.samplers"))]
    keys += [(f"model.{k}", v) for k, v in config.model.items() if "sampler" in k and not isinstance(v, ml_collections.ConfigDict)]
    return keys


def check_samplers(config: ml_collections.ConfigDict) -> None:
    """Every sampler spec in the config is one the model accepts (before anything is built)."""
    from genjax import registry
    from genjax.ode.spec import SpecError

    table = registry.entry(config.model.name).samplers
    for path, value in sampler_keys(config):
        specs = value if isinstance(value, (tuple, list)) else (value,)
        if path.endswith("samplers") and not isinstance(value, (tuple, list)):
            raise ConfigError(f"config key '{path}' = {value!r} is not allowed: expected a tuple of sampler specs")
        if isinstance(value, (tuple, list)) and not value:
            raise ConfigError(f"config key '{path}' is empty: give at least one sampler spec, e.g. ('default',)")
        for spec in specs:
            try:
                table.parse(spec)
            except SpecError as e:
                raise ConfigError(f"config key '{path}' = {spec!r} is not a sampler of model "
                                  f"'{config.model.name}': {e}") from None


# ---------------------------------------------------------------------------------------------
# loading and overriding


def _module_name(path: pathlib.Path) -> tuple[str, pathlib.Path]:
    """``(dotted name, import root)`` of a file: ``experiments/nsf_toy.py`` inside a package
    (a folder with ``__init__.py``) is ``experiments.nsf_toy`` rooted at the package's parent, so
    its ``from experiments.flow_common import ...`` works from any working directory."""
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


def load_config_file(path: str | pathlib.Path) -> ml_collections.ConfigDict:
    """Imports a config file (an experiment module) and returns its ``get_config()``."""
    path = pathlib.Path(path)
    if not path.is_file():
        what = "is a directory, not a config file" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file '{path}' {what} (see `genjax list` for experiments)")
    name, root = _module_name(path.resolve())
    if "." in name and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ConfigError(f"config file '{path}' has a syntax error at line {e.lineno}: {e.msg}") from None
    except ImportError as e:
        raise ConfigError(f"config file '{path}' fails to import: {e}") from None
    if not callable(getattr(module, "get_config", None)):
        raise ConfigError(f"config file '{path}' defines no get_config()")
    config = module.get_config()
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"config file '{path}': get_config() returned {type(config).__name__}, "
                          "not an ml_collections.ConfigDict (start from genjax.config.default_config())")
    return config


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
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_override(config: ml_collections.ConfigDict, path: str, text: str) -> None:
    """Sets ``config.<path>`` from a command-line string, parsed like the current value.

    A ``model.*`` key the experiment file does not set (its family's default applies) may be
    given too: it is parsed as a Python literal (or kept as a string) and checked by the
    family's builder, which rejects keys it does not read.
    """
    parent_path, _, leaf = path.rpartition(".")
    if path.startswith("train.groups.") and path.count(".") == 3:
        _set_group_optimizer_key(config, path, text)
        return
    if path.startswith("model.") and leaf:
        parent = _model_parent(config, parent_path, path)
        if leaf not in parent:
            with parent.unlocked():
                parent[leaf] = _literal_or_str(text)
            return
    else:
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


def _set_group_optimizer_key(config, path: str, text: str) -> None:
    """``train.groups.<group>.<key>``: the group's section is created if the experiment has none,
    and the value is parsed like ``train.<key>`` (checked with the other keys at load time)."""
    _, _, group, key = path.split(".")
    if key not in GROUP_OPTIMIZER_KEYS:
        raise ConfigError(f"config key '{path}' is not an optimiser key; allowed: {', '.join(GROUP_OPTIMIZER_KEYS)}")
    groups = config.train.groups
    if group not in groups:
        with groups.unlocked():
            groups[group] = ml_collections.ConfigDict()
    current = groups[group].get(key, config.train[key])
    try:
        value = _parse_like(text, current)
    except (ValueError, SyntaxError):
        raise ConfigError(f"config key '{path}' expects a {type(current).__name__} like 'train.{key}'; "
                          f"got {text!r}") from None
    with groups[group].unlocked():
        groups[group][key] = value


def _model_parent(config, parent_path: str, path: str) -> ml_collections.ConfigDict:
    """The section holding ``path`` under ``model``, created (empty) where the experiment has none."""
    node = config
    for part in parent_path.split("."):
        if part not in node:
            with node.unlocked():
                node[part] = ml_collections.ConfigDict()
        node = node[part]
        if not isinstance(node, ml_collections.ConfigDict):
            raise ConfigError(f"config key '{path}': '{part}' is a value, not a section")
    return node
