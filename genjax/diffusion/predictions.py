"""What the network predicts: noise (epsilon), clean data (x0), velocity (v) or the score.

With ``x_t = m x_0 + s eps`` every prediction determines the others; a parametrisation turns the
network output into the noise estimate ``eps_hat`` (from which ``x0_hat = (x_t - s eps_hat) / m``
and ``score = -eps_hat / s`` follow) and names its own regression target. ``v = m eps - s x_0``
(Salimans & Ho 2022) is written for any ``(m, s)``, not only ``m^2 + s^2 = 1``.

``score_scale(m, s)`` is the factor ``c`` with ``|score_hat - score| = c |out - target|``, which
turns a loss in the parametrisation's own units into denoising score matching with a weight.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


class Prediction:
    """Base class: ``to_eps(out, x, m, s)``, ``target(x0, eps, m, s)``, ``score_scale(m, s)``.

    ``m, s`` broadcast against ``x [batch, *event]``.
    """

    name: str = ""

    def to_eps(self, out: jax.Array, x: jax.Array, m, s) -> jax.Array:
        raise NotImplementedError

    def target(self, x0: jax.Array, eps: jax.Array, m, s) -> jax.Array:
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

    def to_eps(self, out, x, m, s):
        return out

    def target(self, x0, eps, m, s):
        return eps

    def score_scale(self, m, s):
        return 1.0 / s


@dataclasses.dataclass(frozen=True)
class X0Prediction(Prediction):
    """The network predicts the clean data ``x0``."""

    name: str = "x0"

    def to_eps(self, out, x, m, s):
        return (x - m * out) / s

    def target(self, x0, eps, m, s):
        return x0

    def score_scale(self, m, s):
        return m / s**2


@dataclasses.dataclass(frozen=True)
class VPrediction(Prediction):
    """The network predicts ``v = m eps - s x0``; ``eps = (m v + s x) / (m^2 + s^2)``."""

    name: str = "v"

    def to_eps(self, out, x, m, s):
        return (m * out + s * x) / (m**2 + s**2)

    def target(self, x0, eps, m, s):
        return m * eps - s * x0

    def score_scale(self, m, s):
        return m / (s * (m**2 + s**2))


@dataclasses.dataclass(frozen=True)
class ScorePrediction(Prediction):
    """The network predicts the score ``grad log p_t(x)`` directly (NCSN); ``eps = -s * out``."""

    name: str = "score"

    def to_eps(self, out, x, m, s):
        return -s * out

    def target(self, x0, eps, m, s):
        return -eps / s

    def score_scale(self, m, s):
        return 1.0


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
        knee = self.bound - self.width
        excess = jnp.maximum(jnp.abs(z) - knee, 0.0)
        return jnp.where(jnp.abs(z) <= knee, z, jnp.sign(z) * (knee + self.width * jnp.tanh(excess / self.width)))

    def x0(self, out, x, m, s):
        """The bounded clean-data estimate behind ``out``."""
        return self.clip((x - s * out) / m)

    def to_eps(self, out, x, m, s):
        return (x - m * self.x0(out, x, m, s)) / s

    def target(self, x0, eps, m, s):
        return eps

    def score_scale(self, m, s):
        return 1.0 / s

    def error(self, out, x, x0, eps, m, s):
        return self.to_eps(out, x, m, s) - eps


PREDICTIONS: dict[str, Prediction] = {
    p.name: p for p in (EpsPrediction(), X0Prediction(), VPrediction(), ScorePrediction())
}
