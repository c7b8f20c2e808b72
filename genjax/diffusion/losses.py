"""Training objectives of diffusion and score models, each returning named per-example terms.

- ``DenoisingLoss``: regression of the network's prediction on its target at ``x_t = m x_0 +
  s eps`` (DDPM's simple loss for eps-prediction; x0- and v-prediction likewise) or, with a
  score-space weighting, denoising score matching ``lambda(t) |score_hat - grad log q(x_t | x_0)|^2``
  (Vincent 2011; NCSN's ``lambda = s^2``; Song et al.'s likelihood weighting ``lambda = g^2``).
- ``VLBLoss``: DDPM's full variational bound, one random term per example (see ``ddpm``).
- ``SlicedScoreLoss``: sliced score matching (Song et al. 2019) on noised data, with or
  without the variance-reduced form.

Per-example objectives of a score function ``score_fn: [batch, D] -> [batch, D]``:
``explicit_score_matching`` (needs the true score), ``implicit_score_matching`` (Hyvarinen,
exact trace) and ``sliced_score_matching``; the last two equal the first up to a constant that
does not depend on the model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from genjax.diffusion.ddpm import Bins, prior_kl, vlb_term
from genjax.ode import exact_divergence, hutchinson_divergence, sample_probe
from genjax.diffusion.sde import bcast


def _mean_event(v):
    return jnp.mean(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


def _sum_event(v):
    return jnp.sum(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


# ---------------------------------------------------------------------------------------------
# score matching objectives of a plain score function


def explicit_score_matching(score_fn, true_score: jax.Array, x: jax.Array) -> jax.Array:
    """``1/2 |score_fn(x) - true_score|^2`` per example ``[batch]``."""
    return 0.5 * _sum_event((score_fn(x) - true_score) ** 2)


def implicit_score_matching(score_fn, x: jax.Array) -> jax.Array:
    """Hyvarinen's ``tr(d score / dx) + 1/2 |score|^2`` per example (exact trace)."""
    s, div, _ = exact_divergence(score_fn, x)
    return div + 0.5 * _sum_event(s**2)


def sliced_score_matching(score_fn, x: jax.Array, v: jax.Array, variance_reduced: bool = True) -> jax.Array:
    """``v^T (d score / dx) v + 1/2 (v^T score)^2`` per example for projections ``v``.

    ``variance_reduced`` replaces ``(v^T score)^2`` by its expectation ``|score|^2`` over
    ``v`` (valid for ``E[v v^T] = I``), which lowers the variance (SSM-VR).
    """
    s, vjv, _ = hutchinson_divergence(score_fn, x, v)
    second = _sum_event(s**2) if variance_reduced else _sum_event(v * s) ** 2
    return vjv + 0.5 * second


# ---------------------------------------------------------------------------------------------
# weightings of the denoising loss


@dataclasses.dataclass(frozen=True)
class SimpleWeighting:
    """Unweighted mean-square error in the prediction's own units (DDPM's L_simple)."""

    def __call__(self, model, t, m, s):
        return jnp.ones_like(t)


@dataclasses.dataclass(frozen=True)
class SigmaSquaredWeighting:
    """Score matching with ``lambda(t) = s(t)^2`` (NCSN; equals the eps MSE)."""

    def __call__(self, model, t, m, s):
        return s**2 * model.prediction.score_scale(m, s) ** 2


@dataclasses.dataclass(frozen=True)
class EDMWeighting:
    """EDM's ``lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2`` on the clean-data error, ``sigma = s / m``.

    For the EDM prediction (F) it is 1 in F units (``lambda c_out^2 = 1``): the EDM loss is the
    plain MSE of the preconditioned network's output.
    """

    sigma_data: float = 0.5

    def __call__(self, model, t, m, s):
        sigma = s / m
        lam = (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2
        return lam * model.prediction.x0_scale(m, s) ** 2


@dataclasses.dataclass(frozen=True)
class LikelihoodWeighting:
    """Score matching with ``lambda(t) = g(t)^2``, which makes the loss a bound on the NLL (Song et al. 2021)."""

    def __call__(self, model, t, m, s):
        return model.sde.diffusion(t) ** 2 * model.prediction.score_scale(m, s) ** 2


WEIGHTINGS = {"simple": SimpleWeighting(), "sigma2": SigmaSquaredWeighting(), "likelihood": LikelihoodWeighting()}


# ---------------------------------------------------------------------------------------------
# losses of a Diffusion model


@dataclasses.dataclass(frozen=True)
class DenoisingTerms:
    """Per-example terms: ``error [batch]`` mean-square error of the prediction, ``weight [batch]``."""

    error: jax.Array  # [batch]
    weight: jax.Array  # [batch]

    @property
    def total(self) -> jax.Array:
        return self.weight * self.error

    def metrics(self) -> dict[str, jax.Array]:
        return {"mse": jnp.mean(self.error), "denoising_loss": jnp.mean(self.total)}


@dataclasses.dataclass(frozen=True)
class DenoisingLoss:
    """``weight(t) * mean |net - target|^2`` at ``t`` from the model's times, ``x_t ~ q(x_t | x_0)``."""

    weighting: Any = SimpleWeighting()

    def __call__(self, model, params, x0: jax.Array, label, key: jax.Array) -> DenoisingTerms:
        k_t, k_z = jax.random.split(key)
        t = model.times.sample(k_t, x0.shape[0])
        eps = jax.random.normal(k_z, x0.shape, x0.dtype)
        return self.terms(model, params, x0, label, t, eps)

    def terms(self, model, params, x0: jax.Array, label, t: jax.Array, eps: jax.Array) -> DenoisingTerms:
        """The terms at given times ``t [batch]`` and noise ``eps [batch, *event]``."""
        xt = model.sde.perturb(x0, t, eps)
        m, s = model.sde.marginal(t)
        out = model.net_output(params, xt, t, label)
        error = model.prediction.error(out, xt, x0, eps, bcast(m, x0), bcast(s, x0))
        return DenoisingTerms(_mean_event(error**2), self.weighting(model, t, m, s))


@dataclasses.dataclass(frozen=True)
class VLBTerms:
    """Per-example terms in nats: ``diffusion [batch]`` (number of terms times one random term)
    and ``prior [batch]``; ``total`` is their sum per dimension."""

    diffusion: jax.Array  # [batch]
    prior: jax.Array  # [batch]
    num_dims: int

    @property
    def total(self) -> jax.Array:
        return (self.diffusion + self.prior) / self.num_dims

    def metrics(self) -> dict[str, jax.Array]:
        return {"vlb_nats_per_dim": jnp.mean(self.total), "prior_kl": jnp.mean(self.prior)}


@dataclasses.dataclass(frozen=True)
class VLBLoss:
    """DDPM's negative variational bound, estimated with one uniformly drawn term per example.

    Needs ``DiscreteTimes`` without 0 and a process with ``s(0) = 0`` (VP, sub-VP).
    """

    variance: str = "large"
    bins: Bins | None = None

    def __call__(self, model, params, x0: jax.Array, label, key: jax.Array) -> VLBTerms:
        k_t, k_z = jax.random.split(key)
        idx = model.times.sample_index(k_t, x0.shape[0])
        t = model.times.array()[idx]
        denoise_fn = lambda x, tt: model.denoise(params, x, tt, label)  # noqa: E731
        term = vlb_term(model.sde, denoise_fn, x0, jax.random.normal(k_z, x0.shape, x0.dtype), model.times.previous(idx),
                        t, first=idx == 0, variance=self.variance, bins=self.bins)
        n_terms = len(model.times.values)
        return VLBTerms(n_terms * term, prior_kl(model.sde, x0), math.prod(x0.shape[1:]))


@dataclasses.dataclass(frozen=True)
class SlicedTerms:
    """Per-example ``objective [batch]`` (sliced score matching) and ``weight [batch]`` (``s(t)^2``)."""

    objective: jax.Array  # [batch]
    weight: jax.Array  # [batch]

    @property
    def total(self) -> jax.Array:
        return self.weight * self.objective

    def metrics(self) -> dict[str, jax.Array]:
        return {"ssm": jnp.mean(self.objective)}


@dataclasses.dataclass(frozen=True)
class SlicedScoreLoss:
    """Sliced score matching of the model's score at ``x_t ~ p_t``, weighted by ``s(t)^2`` across levels."""

    variance_reduced: bool = True
    probe: str = "gaussian"

    def __call__(self, model, params, x0: jax.Array, label, key: jax.Array) -> SlicedTerms:
        k_t, k_z, k_v = jax.random.split(key, 3)
        t = model.times.sample(k_t, x0.shape[0])
        xt = model.sde.perturb(x0, t, jax.random.normal(k_z, x0.shape, x0.dtype))
        v = sample_probe(k_v, x0.shape, self.probe, x0.dtype)
        obj = sliced_score_matching(lambda y: model.score(params, y, t, label), xt, v, self.variance_reduced)
        _, s = model.sde.marginal(t)
        return SlicedTerms(obj, s**2)
