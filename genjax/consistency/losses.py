"""Consistency objectives: distillation (CD), training (CT), improved training (iCT) and easy
consistency tuning (ECT), each a small object returning named per-example terms.

All four compare the student at a higher level ``t`` with a target at a lower level ``r`` on the
same trajectory, ``w(t, r) d(f_theta(x_t, t), f_target(x_r, r))``, with ``x_t = x_0 + t z``:

| objective | levels ``(r, t)`` | ``x_r`` | target network | weight, distance |
| --- | --- | --- | --- | --- |
| ``Distillation`` | adjacent on a fixed rho grid of N | one Heun / Euler step of the teacher from ``x_t`` | EMA of the student (``mu``) | 1, ``metric`` |
| ``ConsistencyTraining`` | adjacent on the grid of N(k) levels, uniform | ``x_0 + r z`` (same z) | EMA with ``mu(k)`` | 1, ``metric`` |
| ``ImprovedCT`` | adjacent, discretised log-normal, N(k) doubling | ``x_0 + r z`` | the student, stopped | ``1 / (t - r)``, pseudo-Huber |
| ``EasyCT`` | ``t`` log-normal, ``r = r(t)`` of the stage | ``x_0 + r z`` | the student, stopped | ``1 / (t - r)``, pseudo-Huber |

The pseudo-Huber distance is on the whole example's norm, ``sqrt(|a - b|^2 + c^2) - c``
(``c = 0.00054 sqrt(D)`` in iCT), not a sum of elementwise Huber terms.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from genjax.consistency.parametrization import bcast
from genjax.consistency.schedules import CTCurriculum, ECTMapping, ICTCurriculum, rho_level, sample_pair_index
from genjax.diffusion import euler_step, heun_step

SOLVERS = ("heun", "euler")


def _sq_norm(v: jax.Array) -> jax.Array:
    return jnp.sum(jnp.reshape(v, (v.shape[0], -1)) ** 2, axis=-1)


@dataclasses.dataclass(frozen=True)
class SquaredL2:
    """``|a - b|^2`` per example."""

    name = "l2"

    def __call__(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return _sq_norm(a - b)


@dataclasses.dataclass(frozen=True)
class PseudoHuber:
    """``sqrt(|a - b|^2 + c^2) - c`` on the example's vector norm; ``c = c_factor sqrt(D)``."""

    c_factor: float = 0.00054
    name = "pseudo_huber"

    def __call__(self, a: jax.Array, b: jax.Array) -> jax.Array:
        c = self.c_factor * math.sqrt(math.prod(a.shape[1:]))
        return jnp.sqrt(_sq_norm(a - b) + c**2) - c


METRICS = ("l2", "pseudo_huber")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ConsistencyTerms:
    """Per-example ``distance [batch]`` between student and target, ``weight [batch]``, and the
    levels ``t, r [batch]`` of the pair."""

    distance: jax.Array
    weight: jax.Array
    t: jax.Array
    r: jax.Array
    num_levels: jax.Array | None = None

    @property
    def total(self) -> jax.Array:
        return self.weight * self.distance

    def metrics(self) -> dict[str, jax.Array]:
        out = {"distance": jnp.mean(self.distance), "consistency_loss": jnp.mean(self.total),
               "mean_gap": jnp.mean(self.t - self.r)}
        if self.num_levels is not None:
            out["num_levels"] = jnp.asarray(self.num_levels, jnp.float32)
        return out


def pair_terms(model, params, x0, z, t, r, x_r, target_params, weight, metric, num_levels=None, label=None):
    """``weight * metric(f(params, x0 + t z, t), stop_gradient f(target_params, x_r, r))``.

    Where ``r`` is at the boundary (``r <= sigma_min``) the target is ``x_r`` itself (what ``f``
    gives there exactly), so ``r = 0`` with ``sigma_min = 0`` is the denoising loss.
    """
    x_t = x0 + bcast(t, x0) * z
    student = model.f(params, x_t, t, label)
    target = model.f(jax.lax.stop_gradient(target_params), x_r, r, label)
    target = jnp.where(bcast(r <= model.precond.sigma_min, x_r), x_r, target)
    return ConsistencyTerms(metric(student, jax.lax.stop_gradient(target)), weight, t, r, num_levels)


def _shared_noise_pair(model, params, x0, key, t, r, target_params, weight, metric, num_levels=None, label=None):
    """The pair of CT, iCT and ECT: ``x_t = x0 + t z`` and ``x_r = x0 + r z`` with one noise draw."""
    z = jax.random.normal(key, x0.shape, x0.dtype)
    return pair_terms(model, params, x0, z, t, r, x0 + bcast(r, x0) * z, target_params, weight, metric, num_levels,
                      label)


@dataclasses.dataclass(frozen=True)
class Distillation:
    """CD: ``x_r`` is one teacher step (Heun or Euler) from ``(x_t, t)`` down to the adjacent level ``r``."""

    num_levels: int = 18
    solver: str = "heun"
    target_decay_rate: float = 0.95
    metric: object = SquaredL2()
    uses_target = True
    uses_teacher = True

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise ValueError(f"distillation solver must be one of {SOLVERS}, got {self.solver!r}")

    def target_decay(self, step):
        return jnp.asarray(self.target_decay_rate, jnp.float32)

    def __call__(self, model, params, x0, key, step, label=None) -> ConsistencyTerms:
        k_i, k_z = jax.random.split(key)
        n = x0.shape[0]
        i = jax.random.randint(k_i, (n,), 0, self.num_levels - 1)
        p = model.precond
        r = rho_level(i, self.num_levels, p.sigma_min, model.sigma_max, model.rho)
        t = rho_level(i + 1, self.num_levels, p.sigma_min, model.sigma_max, model.rho)
        z = jax.random.normal(k_z, x0.shape, x0.dtype)
        x_t = x0 + bcast(t, x0) * z
        step_fn = heun_step if self.solver == "heun" else euler_step
        denoise = lambda x, s: model.teacher.denoise(params.get("teacher", {}), x, s)  # noqa: E731
        x_r = jax.lax.stop_gradient(step_fn(denoise, x_t, t, r))
        return pair_terms(model, params["student"], x0, z, t, r, x_r, params["target"], jnp.ones_like(t),
                          self.metric, label=label)


@dataclasses.dataclass(frozen=True)
class ConsistencyTraining:
    """CT without a teacher: the pair shares one noise draw, ``x_r = x_0 + r z``."""

    curriculum: CTCurriculum = CTCurriculum()
    metric: object = SquaredL2()
    uses_target = True
    uses_teacher = False

    def target_decay(self, step):
        return self.curriculum.target_decay(step)

    def __call__(self, model, params, x0, key, step, label=None) -> ConsistencyTerms:
        k_i, k_z = jax.random.split(key)
        n_levels = self.curriculum.num_levels(step)
        i = jax.random.randint(k_i, (x0.shape[0],), 0, n_levels - 1)
        p = model.precond
        r = rho_level(i, n_levels, p.sigma_min, model.sigma_max, model.rho)
        t = rho_level(i + 1, n_levels, p.sigma_min, model.sigma_max, model.rho)
        return _shared_noise_pair(model, params["student"], x0, k_z, t, r, params["target"], jnp.ones_like(t),
                                  self.metric, n_levels, label)


@dataclasses.dataclass(frozen=True)
class ImprovedCT:
    """iCT: doubling curriculum, discretised log-normal pairs, ``1 / (t - r)`` weights, pseudo-Huber,
    and the student itself (gradient stopped) as the target."""

    curriculum: ICTCurriculum = ICTCurriculum()
    p_mean: float = -1.1
    p_std: float = 2.0
    metric: object = PseudoHuber()
    uses_target = False
    uses_teacher = False

    def __call__(self, model, params, x0, key, step, label=None) -> ConsistencyTerms:
        k_i, k_z = jax.random.split(key)
        n_levels = self.curriculum.num_levels(step)
        p = model.precond
        _, r, t = sample_pair_index(k_i, x0.shape[0], n_levels, self.curriculum.max_levels, p.sigma_min,
                                    model.sigma_max, model.rho, self.p_mean, self.p_std)
        return _shared_noise_pair(model, params["student"], x0, k_z, t, r, params["student"], 1.0 / (t - r),
                                  self.metric, n_levels, label)


@dataclasses.dataclass(frozen=True)
class EasyCT:
    """ECT: ``t ~ LogNormal(p_mean, p_std)``, ``r = r(t)`` of the stage (``ECTMapping``), one shared
    noise draw for both evaluations, ``1 / (t - r)`` weights, the stopped student as target."""

    mapping: ECTMapping = ECTMapping()
    p_mean: float = -1.1
    p_std: float = 2.0
    metric: object = PseudoHuber()
    uses_target = False
    uses_teacher = False

    def __call__(self, model, params, x0, key, step, label=None) -> ConsistencyTerms:
        k_t, k_z = jax.random.split(key)
        t = jnp.exp(self.p_mean + self.p_std * jax.random.normal(k_t, x0.shape[:1], x0.dtype))
        r = self.mapping.r(t, step)
        return _shared_noise_pair(model, params["student"], x0, k_z, t, r, params["student"], 1.0 / (t - r),
                                  self.metric, label=label)
