"""The consistency model (Song et al. 2023) as a genjax Model: one network, one- and few-step sampling.

``f(x, sigma)`` maps any point of a probability-flow trajectory at level ``sigma`` to the
trajectory's end at ``sigma_min`` (``genjax.consistency.parametrization``). Training is one of the
objectives of ``genjax.consistency.losses``; the parameters are groups of one dict:

- ``student``: the network ``F``, the only group with an optimiser;
- ``target``: the EMA target network of CD and CT, updated in ``after_update`` (iCT and ECT have
  none: their target is the student with its gradient stopped);
- ``teacher``: a distillation teacher's parameters, frozen (a Gaussian teacher has none).

Sampling (``cm@K[:times=t1/t2/...]``): ``x = f(sigma_max z, sigma_max)``, then for each of the
``K - 1`` decreasing intermediate levels ``tau``: ``x = f(x + sqrt(tau^2 - sigma_min^2) z', tau)``
(Algorithm 1). Without ``times`` the levels are the interior of the rho grid of ``K + 1``
levels. Each step is one network call.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.consistency.parametrization import ConsistencyPreconditioning, consistency_function
from genjax.diffusion import Affine, karras_sigmas
from genjax.model import ModelBase, Update
from genjax.ode import SamplerKind, SamplerTable

CM_SAMPLERS = SamplerTable({
    "cm": SamplerKind(options={"times": str},
                      doc="K consistency steps (1 by default); times=t1/t2/..: the K-1 decreasing intermediate levels"),
})


@dataclasses.dataclass(frozen=True)
class Multistep:
    """``steps`` consistency steps with ``times`` (the ``steps - 1`` intermediate levels) or the rho grid's."""

    steps: int = 1
    times: tuple[float, ...] | None = None
    OPTIONS: ClassVar[dict] = {"times": str}

    def levels(self, sigma_min: float, sigma_max: float, rho: float) -> tuple[float, ...]:
        if self.times is not None:
            return self.times
        if self.steps == 1:
            return ()
        with jax.ensure_compile_time_eval():
            interior = karras_sigmas(self.steps + 1, sigma_min, sigma_max, rho)[1:-1]
            return tuple(float(v) for v in interior)


def parse_multistep(spec) -> Multistep:
    """``cm@2:times=0.8`` -> ``Multistep(2, (0.8,))``; a one-line ``ValueError`` when the times do not
    fit (count, order, positivity)."""
    steps = spec.steps
    raw = spec.get("times")
    times = None
    if raw is not None:
        try:
            times = tuple(float(v) for v in raw.split("/") if v.strip())
        except ValueError:
            raise ValueError(f"sampler {spec}: times must be levels separated by '/', e.g. times=2.0/0.5") from None
        if steps is None:
            steps = len(times) + 1
        if len(times) != steps - 1:
            raise ValueError(f"sampler {spec}: {steps} steps need {steps - 1} intermediate levels, got {len(times)}")
        if any(a <= b for a, b in zip(times, times[1:])) or any(v <= 0 for v in times):
            raise ValueError(f"sampler {spec}: times must be positive and strictly decreasing")
    return Multistep(steps or 1, times)


class Consistency(ModelBase):
    """A consistency model.

    Args:
      net: Linen module ``(x_in [batch, *event], c_noise [batch], label | None) -> F [batch, *event]``.
      event_shape: shape of one example.
      objective: a ``genjax.consistency.losses`` objective (its ``uses_target`` / ``uses_teacher``
        decide the parameter groups).
      sigma_data, sigma_min: the scalings' data std and boundary level (0 for ECT: EDM's denoiser).
      sigma_max: the largest level (the prior ``N(0, sigma_max^2 I)``).
      rho: the grid exponent.
      teacher: a ``genjax.consistency.teachers`` object (CD), or None.
      teacher_params: its parameters (the frozen ``teacher`` group), or None.
      init_params: the student's initial parameters (a trained diffusion network for ECT, or the
        teacher's for CD), or None for ``net.init``.
      transform: data -> model space.
      default_sampler: the spec ``sample`` uses for None / "default".
    """

    samplers = CM_SAMPLERS
    update_plan = (Update("student", "consistency_loss"),)

    def __init__(self, net: nn.Module, event_shape: tuple[int, ...], *, objective, sigma_data: float = 0.5,
                 sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0, teacher=None,
                 teacher_params: Any = None, init_params: Any = None, transform: Affine = Affine(),
                 default_sampler: str = "cm@1"):
        if objective.uses_teacher and teacher is None:
            raise ValueError("consistency distillation needs a teacher")
        self.net = net
        self.event_shape = tuple(event_shape)
        self.objective = objective
        self.precond = ConsistencyPreconditioning(float(sigma_data), float(sigma_min))
        self.sigma_max = float(sigma_max)
        self.rho = float(rho)
        self.teacher = teacher
        self.teacher_params = teacher_params
        self.init_params = init_params
        self.transform = transform
        self.default_sampler = default_sampler
        parse_multistep(self.samplers.parse("cm" if default_sampler == "default" else default_sampler))

    # -- the consistency function ----------------------------------------------------------

    def _apply(self, params, x_in, c_noise, label):
        return self.net.apply(params, x_in, c_noise, label)

    def f(self, params, x: jax.Array, sigma, label=None) -> jax.Array:
        """``f(x, sigma)`` with the student's (or target's) network parameters ``params`` (model space)."""
        return consistency_function(self._apply, self.precond, params, x, sigma, label)

    # -- the Model contract ----------------------------------------------------------------

    def init(self, key: jax.Array, batch: dict) -> dict:
        x = self.transform.forward(batch["x"])
        if self.init_params is not None:
            student = jax.tree_util.tree_map(jnp.asarray, self.init_params)
        else:
            student = self.net.init(key, x, jnp.zeros(x.shape[:1], x.dtype), None)
        params = {"student": student}
        if self.objective.uses_target:
            params["target"] = student
        if self.teacher_params is not None:
            params["teacher"] = jax.tree_util.tree_map(jnp.asarray, self.teacher_params)
        return params

    def consistency_loss(self, params, batch: dict, key: jax.Array, step):
        """The objective's mean loss at train step ``step`` (the curricula read it) and its metrics."""
        x0 = self.transform.forward(batch["x"])
        terms = self.objective(self, params, x0, key, step)
        return jnp.mean(terms.total), terms.metrics()

    def loss(self, params, batch: dict, key: jax.Array):
        """The loss at the first step of the curriculum (the trainer calls ``consistency_loss``)."""
        return self.consistency_loss(params, batch, key, jnp.asarray(0, jnp.int32))

    def after_update(self, params, step):
        if "target" not in params:
            return params
        mu = self.objective.target_decay(jnp.asarray(step) - 1)
        target = jax.tree_util.tree_map(lambda a, b: mu * a + (1.0 - mu) * b, params["target"], params["student"])
        return {**params, "target": jax.lax.stop_gradient(target)}

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None):
        """``(x [num, *event], {"nfe"})`` in data space with ``cm@K[:times=...]`` (see the module doc)."""
        spec = self.default_sampler if sampler in (None, "default") else sampler
        plan = parse_multistep(self.samplers.parse(spec))
        levels = plan.levels(self.precond.sigma_min, self.sigma_max, self.rho)
        k0, *keys = jax.random.split(key, len(levels) + 1)
        student = params["student"]
        x = self.f(student, self.sigma_max * jax.random.normal(k0, (num, *self.event_shape)), self.sigma_max)
        for tau, k in zip(levels, keys):
            scale = jnp.sqrt(jnp.maximum(tau**2 - self.precond.sigma_min**2, 0.0))
            x = self.f(student, x + scale * jax.random.normal(k, x.shape, x.dtype), tau)
        return self.transform.inverse(x), {"nfe": jnp.asarray(1 + len(levels), jnp.int32)}
