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


PREDICTIONS: dict[str, Prediction] = {
    p.name: p for p in (EpsPrediction(), X0Prediction(), VPrediction(), ScorePrediction())
}
