"""Noise-level grids and training curricula of consistency training.

Levels ``sigma_0 < ... < sigma_{N-1}`` are EDM's rho grid from ``sigma_min`` to ``sigma_max``
(``rho_level``; Song et al. index them from 1). A training pair is two adjacent levels.

- CT (Song et al. 2023, Appendix C): ``N(k) = ceil(sqrt(k / K ((s1 + 1)^2 - s0^2) + s0^2) - 1) + 1``
  levels at step ``k`` of ``K``, target decay ``mu(k) = exp(s0 log(mu0) / N(k))``.
- iCT (Song & Dhariwal 2023): ``N(k) = min(s0 2^floor(k / K'), s1) + 1`` with
  ``K' = floor(K / (log2 floor(s1 / s0) + 1))`` (doubling from s0 = 10 to s1 = 1280); the pair
  ``(sigma_i, sigma_{i+1})`` is drawn with probability proportional to
  ``erf((log sigma_{i+1} - P_mean) / (sqrt 2 P_std)) - erf((log sigma_i - P_mean) / (sqrt 2 P_std))``
  (a log-normal discretised onto the grid) and weighted by ``1 / (sigma_{i+1} - sigma_i)``.
- ECT (Geng et al. 2024): continuous ``t ~ LogNormal(P_mean, P_std)`` and
  ``r(t) = max(t (1 - q^-(stage + 1) n(t)), 0)``, ``n(t) = 1 + k sigmoid(-b t)``: in the first
  stage most pairs have ``r = 0`` (the diffusion loss) and ``r -> t`` as stages pass.

Every function takes the step as a (traced) integer, so a curriculum runs inside the jitted
train step.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax.scipy.special import erf


def rho_level(i, n, sigma_min: float, sigma_max: float, rho: float = 7.0):
    """``sigma_i`` of the increasing rho grid of ``n`` levels (``i``, ``n`` may be traced arrays)."""
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    frac = jnp.asarray(i, jnp.result_type(float)) / (jnp.asarray(n, jnp.result_type(float)) - 1.0)
    return (lo + frac * (hi - lo)) ** rho


@dataclasses.dataclass(frozen=True)
class CTCurriculum:
    """Song et al.'s CT schedule: ``N(k)`` from ``s0`` to ``s1 + 1`` levels over ``total_steps``, and
    the target network's decay ``mu(k)``."""

    s0: int = 2
    s1: int = 150
    mu0: float = 0.9
    total_steps: int = 10_000

    def num_levels(self, step):
        k = jnp.minimum(jnp.asarray(step, jnp.result_type(float)), self.total_steps)
        inner = jnp.sqrt(k / self.total_steps * ((self.s1 + 1) ** 2 - self.s0**2) + self.s0**2)
        return (jnp.ceil(inner - 1.0) + 1).astype(jnp.int32)

    def target_decay(self, step):
        return jnp.exp(self.s0 * math.log(self.mu0) / self.num_levels(step))


@dataclasses.dataclass(frozen=True)
class ICTCurriculum:
    """iCT's doubling schedule ``N(k) = min(s0 2^floor(k / K'), s1) + 1`` over ``total_steps``."""

    s0: int = 10
    s1: int = 1280
    total_steps: int = 400_000

    @property
    def stage_steps(self) -> int:
        """``K' = floor(K / (log2 floor(s1 / s0) + 1))`` (at least 1)."""
        return max(int(self.total_steps // (math.log2(self.s1 // self.s0) + 1)), 1)

    def num_levels(self, step):
        doublings = jnp.asarray(step, jnp.int32) // self.stage_steps
        # 2^doublings without overflow: capped where s0 2^d already exceeds s1
        cap = int(math.ceil(math.log2(max(self.s1 / self.s0, 1.0)))) + 1
        grown = self.s0 * jnp.left_shift(1, jnp.minimum(doublings, cap))
        return (jnp.minimum(grown, self.s1) + 1).astype(jnp.int32)

    @property
    def max_levels(self) -> int:
        return self.s1 + 1


def lognormal_pair_logits(sigmas: jax.Array, p_mean: float, p_std: float) -> jax.Array:
    """``[n - 1]`` log-probabilities (unnormalised) of the pairs ``(sigma_i, sigma_{i+1})``:
    the mass of ``LogNormal(p_mean, p_std)`` between them."""
    c = erf((jnp.log(sigmas) - p_mean) / (math.sqrt(2.0) * p_std))
    return jnp.log(jnp.maximum(c[1:] - c[:-1], 1e-30))


def sample_pair_index(key: jax.Array, num: int, n_levels, max_levels: int, sigma_min: float, sigma_max: float,
                      rho: float, p_mean: float, p_std: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Draws ``num`` pairs of adjacent levels of the ``n_levels`` grid by the discretised log-normal.

    ``n_levels`` may be traced (the curriculum's); the grid is laid out on ``max_levels`` slots
    with the pairs beyond it masked. Returns ``(i [num], sigma_i [num], sigma_{i+1} [num])``.
    """
    i = jnp.arange(max_levels)
    sigmas = rho_level(jnp.minimum(i, n_levels - 1), n_levels, sigma_min, sigma_max, rho)
    mass = jnp.where(i[:-1] < n_levels - 1, jnp.exp(lognormal_pair_logits(sigmas, p_mean, p_std)), 0.0)
    # inverse-CDF draws: O(num log max_levels), where Gumbel draws would cost num * max_levels
    cdf = jnp.cumsum(mass)
    u = jax.random.uniform(key, (num,), cdf.dtype) * cdf[-1]
    idx = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n_levels - 2)
    return idx, sigmas[idx], sigmas[idx + 1]


@dataclasses.dataclass(frozen=True)
class ECTMapping:
    """ECT's ``r(t) = max(t (1 - q^-(stage + 1) (1 + k sigmoid(-b t))), 0)``, ``stage = step // stage_steps``."""

    q: float = 2.0
    k: float = 8.0
    b: float = 1.0
    stage_steps: int = 2000

    def stage(self, step):
        return jnp.asarray(step, jnp.int32) // self.stage_steps

    def r(self, t, step):
        decay = jnp.asarray(self.q, jnp.result_type(float)) ** -(self.stage(step) + 1).astype(jnp.result_type(float))
        ratio = 1.0 - decay * (1.0 + self.k * jax.nn.sigmoid(-self.b * t))
        return jnp.maximum(t * ratio, 0.0)
