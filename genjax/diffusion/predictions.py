"""What the network predicts: noise (eps), clean data (x0), velocity (v), the score, or EDM's F.

With ``x_t = m x_0 + s eps`` every prediction determines the others. Each parametrisation
converts its output **directly** into each quantity a sampler needs: the clean-data estimate
``x0_hat`` (DDPM, DDIM and EDM steps), the noise estimate ``eps_hat`` (DDIM) and the score
``-eps_hat / s`` (SDE, ODE and Langevin samplers), never by rebuilding one from another. The
round trip through ``eps`` (``x0 = (x - s eps) / m``) cancels catastrophically where ``m`` is
tiny: near ``t = T`` of the cosine schedule a v- or x0-prediction's ``x0_hat`` rebuilt from its
own ``eps_hat`` keeps only about four of float32's seven digits, while the direct formula keeps
them all (``tests/test_diffusion_edm.py`` measures both against float64).

``v = m eps - s x_0`` (Salimans & Ho 2022) is written for any ``(m, s)``, not only
``m^2 + s^2 = 1``. EDM's F (Karras et al. 2022) is the output of a preconditioned network,
``D = c_skip x~ + c_out F(c_in x~, c_noise)`` in the variance-exploding coordinates
``x~ = x / m``, ``sigma = s / m``; ``net_inputs`` gives what such a network sees.

``x0_scale(m, s)`` and ``score_scale(m, s)`` are the factors with ``|x0_hat - x0| = x0_scale
|out - target|`` and ``|score_hat - score| = score_scale |out - target|``, which turn a loss in
the parametrisation's own units into a weighted denoising loss in clean-data or score units.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Denoised(NamedTuple):
    """A denoiser's two readings of ``x_t``: ``x0 [batch, *event]`` and ``eps [batch, *event]``."""

    x0: jax.Array
    eps: jax.Array


class Prediction:
    """Base class: direct conversions ``to_x0``, ``to_eps``, ``to_score`` of the output ``out``
    at ``x``, the regression ``target(x0, eps, m, s)``, and the scales of its errors.

    ``m, s`` broadcast against ``x [batch, *event]``.
    """

    name: str = ""

    def net_inputs(self, x: jax.Array, t: jax.Array, m, s) -> tuple[jax.Array, jax.Array]:
        """What the network is called on at ``(x, t)``: ``(x, t)`` itself unless preconditioned."""
        return x, t

    def to_x0(self, out: jax.Array, x: jax.Array, m, s) -> jax.Array:
        raise NotImplementedError

    def to_eps(self, out: jax.Array, x: jax.Array, m, s) -> jax.Array:
        raise NotImplementedError

    def to_score(self, out: jax.Array, x: jax.Array, m, s) -> jax.Array:
        return -self.to_eps(out, x, m, s) / s

    def denoised(self, out: jax.Array, x: jax.Array, m, s) -> Denoised:
        return Denoised(self.to_x0(out, x, m, s), self.to_eps(out, x, m, s))

    def target(self, x0: jax.Array, eps: jax.Array, m, s) -> jax.Array:
        raise NotImplementedError

    def x0_scale(self, m, s):
        raise NotImplementedError

    def score_scale(self, m, s):
        raise NotImplementedError

    def error(self, out, x, x0, eps, m, s) -> jax.Array:
        """The residual the denoising loss squares: ``out - target`` in the prediction's units."""
        return out - self.target(x0, eps, m, s)


@dataclasses.dataclass(frozen=True)
class EpsPrediction(Prediction):
    """The network predicts the noise ``eps`` (DDPM)."""

    name: str = "eps"

    def to_x0(self, out, x, m, s):
        return (x - s * out) / m

    def to_eps(self, out, x, m, s):
        return out

    def target(self, x0, eps, m, s):
        return eps

    def x0_scale(self, m, s):
        return s / m

    def score_scale(self, m, s):
        return 1.0 / s


@dataclasses.dataclass(frozen=True)
class X0Prediction(Prediction):
    """The network predicts the clean data ``x0``."""

    name: str = "x0"

    def to_x0(self, out, x, m, s):
        return out

    def to_eps(self, out, x, m, s):
        return (x - m * out) / s

    def target(self, x0, eps, m, s):
        return x0

    def x0_scale(self, m, s):
        return 1.0

    def score_scale(self, m, s):
        return m / s**2


@dataclasses.dataclass(frozen=True)
class VPrediction(Prediction):
    """The network predicts ``v = m eps - s x0``; ``x0 = (m x - s v) / (m^2 + s^2)``,
    ``eps = (s x + m v) / (m^2 + s^2)``."""

    name: str = "v"

    def to_x0(self, out, x, m, s):
        return (m * x - s * out) / (m**2 + s**2)

    def to_eps(self, out, x, m, s):
        return (m * out + s * x) / (m**2 + s**2)

    def target(self, x0, eps, m, s):
        return m * eps - s * x0

    def x0_scale(self, m, s):
        return s / (m**2 + s**2)

    def score_scale(self, m, s):
        return m / (s * (m**2 + s**2))


@dataclasses.dataclass(frozen=True)
class ScorePrediction(Prediction):
    """The network predicts the score ``grad log p_t(x)`` directly (NCSN); ``eps = -s * out``,
    ``x0 = (x + s^2 out) / m``."""

    name: str = "score"

    def to_x0(self, out, x, m, s):
        return (x + s**2 * out) / m

    def to_eps(self, out, x, m, s):
        return -s * out

    def to_score(self, out, x, m, s):
        return out

    def target(self, x0, eps, m, s):
        return -eps / s

    def x0_scale(self, m, s):
        return s**2 / m

    def score_scale(self, m, s):
        return 1.0


def soft_clip(z, bound: float, width: float):
    """The identity on ``[-(bound - width), bound - width]``, then a tanh knee of width ``width``
    that never reaches ``bound``: smooth, monotone, with slope 1 at the knee."""
    knee = bound - width
    excess = jnp.maximum(jnp.abs(z) - knee, 0.0)
    return jnp.where(jnp.abs(z) <= knee, z, jnp.sign(z) * (knee + width * jnp.tanh(excess / width)))


@dataclasses.dataclass(frozen=True)
class BoundedX0Prediction(Prediction):
    """Noise prediction whose implied clean-data estimate is kept inside ``[-bound, bound]``.

    The network predicts ``eps`` as in ``EpsPrediction``; its implied ``x0 = (x - s out) / m`` is
    passed through ``clip``: the identity on ``[-(bound - width), bound - width]``, then a tanh
    knee of width ``width`` that never reaches ``bound``. Then ``eps_hat = (x - m x0_hat) / s``,
    and the loss residual is ``eps_hat - eps``, the eps-MSE. Wherever the implied ``x0`` lies in
    the identity range (all data in ``[-(bound - width), bound - width]^d`` at small noise), the
    model is the plain eps-prediction. Far from the data, ``eps_hat - x / s`` is bounded by
    ``m bound / s``: the implied score is ``-x / s^2 + O(bound)``, as the exact score of any data
    inside the box, and the VP probability-flow velocity ``beta m (m x - x0_hat) / (2 s^2)`` keeps
    the exact field's growth in ``x`` instead of the faster one an eps network's linear
    extrapolation ``eps_hat ~ c x`` gives. ``E[x_0 | x_t]`` of data in the box lies in the box, so
    the exact denoiser is representable.
    """

    bound: float = 1.1
    width: float = 0.1
    name: str = "eps_bounded_x0"

    def clip(self, z):
        return soft_clip(z, self.bound, self.width)

    def x0(self, out, x, m, s):
        """The bounded clean-data estimate behind ``out``."""
        return self.clip((x - s * out) / m)

    def to_x0(self, out, x, m, s):
        return self.x0(out, x, m, s)

    def to_eps(self, out, x, m, s):
        return (x - m * self.x0(out, x, m, s)) / s

    def target(self, x0, eps, m, s):
        return eps

    def x0_scale(self, m, s):
        return s / m

    def score_scale(self, m, s):
        return 1.0 / s

    def error(self, out, x, x0, eps, m, s):
        return self.to_eps(out, x, m, s) - eps


@dataclasses.dataclass(frozen=True)
class EDMPreconditioning:
    """Karras et al.'s (2022) preconditioning at noise level ``sigma`` (Table 1, "ours"):

    ``c_skip = sd^2 / (sigma^2 + sd^2)``, ``c_out = sigma sd / sqrt(sigma^2 + sd^2)``,
    ``c_in = 1 / sqrt(sigma^2 + sd^2)``, ``c_noise = log(sigma) / 4`` with ``sd = sigma_data``,
    so that ``D = c_skip x + c_out F(c_in x, c_noise)`` has unit-variance network inputs and
    targets for data of standard deviation ``sd``; the loss weight ``lambda = 1 / c_out^2``
    makes the EDM loss ``lambda |D - x0|^2`` the plain MSE of ``F``.
    """

    sigma_data: float = 0.5

    def c_skip(self, sigma):
        return self.sigma_data**2 / (sigma**2 + self.sigma_data**2)

    def c_out(self, sigma):
        return sigma * self.sigma_data / jnp.sqrt(sigma**2 + self.sigma_data**2)

    def c_in(self, sigma):
        return 1.0 / jnp.sqrt(sigma**2 + self.sigma_data**2)

    def c_noise(self, sigma):
        # log(0) would be -inf; a level below 1e-30 is the data itself (c_out = 0 there)
        return 0.25 * jnp.log(jnp.maximum(sigma, 1e-30))

    def loss_weight(self, sigma):
        """``lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2``."""
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2


@dataclasses.dataclass(frozen=True)
class EDMPrediction(Prediction):
    """EDM's preconditioned network output ``F``, in the VE coordinates ``x~ = x / m``, ``sigma = s / m``.

    ``x0 = c_skip x~ + c_out F`` and ``eps = (x~ - x0) / sigma = sigma x~ / c^2 - sd F / c`` with
    ``c = sqrt(sigma^2 + sd^2)``, both written without a difference of nearly equal terms; the
    target is ``F* = (x0 - c_skip x~) / c_out`` and the network sees ``(c_in x~, c_noise)``.
    """

    sigma_data: float = 0.5
    name: str = "edm"

    @property
    def precond(self) -> EDMPreconditioning:
        return EDMPreconditioning(self.sigma_data)

    def net_inputs(self, x, t, m, s):
        sigma = s / m
        p = self.precond
        return p.c_in(sigma) * x / m, jnp.reshape(p.c_noise(sigma), jnp.shape(t))

    def to_x0(self, out, x, m, s):
        sigma = s / m
        p = self.precond
        return p.c_skip(sigma) * (x / m) + p.c_out(sigma) * out

    def to_eps(self, out, x, m, s):
        sigma = s / m
        c = jnp.sqrt(sigma**2 + self.sigma_data**2)
        return sigma * (x / m) / c**2 - self.sigma_data * out / c

    def target(self, x0, eps, m, s):
        sigma = s / m
        p = self.precond
        x_ve = x0 + sigma * eps  # = x_t / m
        return (x0 - p.c_skip(sigma) * x_ve) / p.c_out(sigma)

    def x0_scale(self, m, s):
        return self.precond.c_out(s / m)

    def score_scale(self, m, s):
        return self.precond.c_out(s / m) * m / s**2


@dataclasses.dataclass(frozen=True)
class BoundedEDMPrediction(EDMPrediction):
    """EDM's preconditioned denoiser with its output ``D`` kept inside ``[-bound, bound]`` by
    ``soft_clip`` (the x0 bound of ``BoundedX0Prediction``, for a network that outputs ``D``).

    Wherever ``D`` lies in the identity range the model is plain ``EDMPrediction`` (same ``x0``,
    same ``eps`` formula without cancellation, same loss). Far from the data the probability-flow
    velocity ``(x - D) / sigma`` is ``x / sigma + O(bound / sigma)``, the growth of the exact field
    of any data inside the box, instead of the outward run-away a network's linear extrapolation
    gives off the data (an upward PF-ODE solve, as the likelihood makes, meets such inputs).
    """

    bound: float = 1.1
    width: float = 0.1
    name: str = "edm_bounded_x0"

    def to_x0(self, out, x, m, s):
        return soft_clip(super().to_x0(out, x, m, s), self.bound, self.width)

    def to_eps(self, out, x, m, s):
        raw = super().to_x0(out, x, m, s)
        inside = jnp.abs(raw) <= self.bound - self.width
        bounded = (x - m * soft_clip(raw, self.bound, self.width)) / s
        return jnp.where(inside, super().to_eps(out, x, m, s), bounded)

    def error(self, out, x, x0, eps, m, s):
        """``(D_bounded - x0) / c_out``: ``F - F*`` wherever the bound is inactive."""
        return (self.to_x0(out, x, m, s) - x0) / self.x0_scale(m, s)


def bounded(prediction: Prediction, bound: float, width: float) -> Prediction:
    """``prediction`` with its clean-data estimate kept in ``[-bound, bound]``: ``BoundedX0Prediction``
    for a noise prediction, ``BoundedEDMPrediction`` for EDM's (the others have no bounded form)."""
    if isinstance(prediction, EDMPrediction):
        return BoundedEDMPrediction(prediction.sigma_data, bound=float(bound), width=float(width))
    if isinstance(prediction, (EpsPrediction, BoundedX0Prediction)):
        return BoundedX0Prediction(float(bound), float(width))
    raise ValueError(f"an x0 bound applies to eps and EDM predictions, not {type(prediction).__name__}")


PREDICTIONS: dict[str, Prediction] = {
    p.name: p for p in (EpsPrediction(), X0Prediction(), VPrediction(), ScorePrediction())
}
