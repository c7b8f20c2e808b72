"""The one sampler grammar: ``name[@steps][:option=value]...``, parsed in one place.

Every family samples through a spec string (``"heun@8"``, ``"ddim@50:eta=0.5"``, ``"tsit5:rtol=1e-3"``,
``"default"``). The syntax is parsed here; which names, step counts and options a model accepts
is a ``SamplerTable`` the family declares (``model.samplers``, and the registry entry so a config
is checked before anything is built). ``"default"`` is always accepted: the model's own choice.

    table = SamplerTable({"heun": SamplerKind(options={"rtol": float})})
    spec = table.parse("heun@8")          # SamplerSpec(name="heun", steps=8, options=())
    table.parse("rk4@5")                  # SpecError: names what is allowed

The ODE solvers of ``genjax.ode.solve`` form ``ODE_SAMPLERS``: every model that integrates an ODE
to sample (flow matching, CNFs, the probability-flow ODE of diffusion models) accepts them, and
``ode_config(spec, default)`` turns one into an ``ODESolverConfig``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from genjax.ode.solve import SOLVERS, ODESolverConfig

DEFAULT = "default"
STEPS = ("optional", "required", "none")


class SpecError(ValueError):
    """A sampler spec that does not parse or that the model does not accept."""


@dataclasses.dataclass(frozen=True)
class SamplerSpec:
    """A parsed spec: ``name``, ``steps`` (None when not given) and typed ``options``."""

    name: str
    steps: int | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def get(self, option: str, default: Any = None) -> Any:
        return dict(self.options).get(option, default)

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT

    def __str__(self) -> str:
        text = self.name + (f"@{self.steps}" if self.steps is not None else "")
        return text + "".join(f":{k}={v}" for k, v in self.options)


def split_spec(text: str) -> tuple[str, int | None, list[tuple[str, str]]]:
    """Syntax only: ``"ddim@50:eta=0.5"`` -> ``("ddim", 50, [("eta", "0.5")])``."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"sampler {text!r} is not a spec: write name[@steps][:option=value]...")
    head, *opts = text.strip().split(":")
    name, at, steps = head.partition("@")
    if not name:
        raise SpecError(f"sampler {text!r} has no name: write name[@steps][:option=value]...")
    count = None
    if at:
        if not steps.isdigit() or int(steps) < 1:
            raise SpecError(f"sampler {text!r}: the step count after '@' must be a positive integer")
        count = int(steps)
    pairs = []
    for opt in opts:
        key, eq, value = opt.partition("=")
        if not eq or not key:
            raise SpecError(f"sampler {text!r}: option {opt!r} must be written key=value")
        pairs.append((key, value))
    return name, count, pairs


def _convert(kind: type, value: str) -> Any:
    if kind is bool:
        low = value.lower()
        if low in ("1", "true", "yes"):
            return True
        if low in ("0", "false", "no"):
            return False
        raise ValueError(value)
    return kind(value)


@dataclasses.dataclass(frozen=True)
class SamplerKind:
    """What one sampler name accepts.

    Attributes:
      options: option name -> type (``int``, ``float``, ``str``, ``bool``).
      steps: whether ``@steps`` is "optional", "required" or not allowed ("none").
      doc: one line shown in error messages and ``genjax config``.
    """

    options: Mapping[str, type] = dataclasses.field(default_factory=dict)
    steps: str = "optional"
    doc: str = ""

    def __post_init__(self):
        if self.steps not in STEPS:
            raise ValueError(f"steps must be one of {STEPS}, got {self.steps!r}")

    def usage(self, name: str) -> str:
        at = {"optional": "[@steps]", "required": "@steps", "none": ""}[self.steps]
        opts = "".join(f"[:{k}=<{t.__name__}>]" for k, t in self.options.items())
        return f"{name}{at}{opts}"


class SamplerTable(Mapping):
    """The sampler names a model accepts, each with its ``SamplerKind``; ``parse`` validates."""

    def __init__(self, kinds: Mapping[str, SamplerKind] | None = None, *, default: SamplerKind | None = None):
        kinds = dict(kinds or {})
        first = kinds.pop(DEFAULT, None) or default or SamplerKind(steps="none", doc="the model's default")
        self._kinds = {DEFAULT: first, **kinds}

    def __getitem__(self, name: str) -> SamplerKind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def __hash__(self) -> int:
        return hash(tuple(self._kinds))

    def __or__(self, other: SamplerTable) -> SamplerTable:
        merged = dict(self._kinds)
        merged.update({k: v for k, v in other._kinds.items() if k != DEFAULT})
        return SamplerTable(merged)  # keeps this table's "default"

    def usage(self) -> str:
        return ", ".join(kind.usage(name) for name, kind in self._kinds.items())

    def parse(self, text: str | SamplerSpec | None) -> SamplerSpec:
        """The validated spec; ``None`` means ``"default"``. Raises ``SpecError`` naming what is allowed."""
        if isinstance(text, SamplerSpec):
            text = str(text)
        if text is None:
            text = DEFAULT
        name, steps, pairs = split_spec(text)
        if name not in self._kinds:
            raise SpecError(f"unknown sampler {text!r}; allowed: {self.usage()}")
        kind = self._kinds[name]
        if steps is None and kind.steps == "required":
            raise SpecError(f"sampler {text!r} needs a step count: {kind.usage(name)}")
        if steps is not None and kind.steps == "none":
            raise SpecError(f"sampler {text!r} takes no step count: {kind.usage(name)}")
        options = []
        for key, value in pairs:
            if key not in kind.options:
                allowed = ", ".join(f"{k}=<{t.__name__}>" for k, t in kind.options.items()) or "none"
                raise SpecError(f"sampler {text!r}: option {key!r} is not one of {allowed}")
            try:
                options.append((key, _convert(kind.options[key], value)))
            except ValueError:
                raise SpecError(f"sampler {text!r}: option {key} expects a {kind.options[key].__name__}, "
                                f"got {value!r}") from None
        return SamplerSpec(name, steps, tuple(options))


_TOLERANCES = {"rtol": float, "atol": float}
ODE_SAMPLERS = SamplerTable({
    name: SamplerKind(
        options=_TOLERANCES if info.adaptive else {},
        doc=(f"{name}: adaptive (rtol/atol), or @steps fixed steps" if info.adaptive
             else f"{name}: @steps fixed steps (default: the model's step count)"),
    )
    for name, info in SOLVERS.items()
})


def ode_config(spec: SamplerSpec, default: ODESolverConfig) -> ODESolverConfig:
    """The ``ODESolverConfig`` of an ODE-solver spec (``"default"`` gives ``default``).

    ``tsit5`` / ``dopri5`` alone are adaptive; ``name@K`` is ``K`` fixed steps with that tableau;
    a fixed-step name alone (``euler``) takes ``default.steps`` steps.
    """
    if spec.is_default:
        return default
    if spec.name not in SOLVERS:
        raise SpecError(f"sampler {str(spec)!r} is not an ODE solver; known: {sorted(SOLVERS)}")
    cfg = default.replace(solver=spec.name, fixed_grid=spec.steps is not None)
    if spec.steps is not None:
        cfg = cfg.replace(steps=spec.steps)
    changes = {k: v for k, v in spec.options if k in _TOLERANCES}
    return cfg.replace(**changes) if changes else cfg
