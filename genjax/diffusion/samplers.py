"""Samplers of diffusion models, chosen by a spec string ``name[@steps][:option=value]...``.

| spec | sampler |
| --- | --- |
| ``ddpm@K[:variance=small|large]`` | ancestral sampling (DDPM) on K steps of the model's grid |
| ``ddim@K[:eta=E]`` | DDIM with ``eta`` in [0, 1] (0: deterministic) |
| ``em@K`` | Euler-Maruyama on the reverse SDE (diffrax, Brownian tree) |
| ``rd@K`` | reverse-diffusion predictor (the reverse of the SDE's own discretisation) |
| ``pc@K[:snr=R][:corrector_steps=C]`` | reverse-diffusion predictor + Langevin corrector (Song et al. 2021) |
| ``ode[@K][:solver=S][:rtol=..][:atol=..]`` | probability-flow ODE: the model's solve (``model.ode``), or K fixed steps |
| ``tsit5``, ``heun@8``, ``euler@20``, ... | probability-flow ODE with that solver of ``genjax.ode`` (as for every ODE model) |
| ``ald@S[:eps=E][:levels=L][:denoise=1]`` | annealed Langevin dynamics, S steps per noise level (NCSN) |
| ``edm_heun@K``, ``edm_euler@K``, ``edm_stochastic@K[:churn=..]`` | EDM's samplers on the rho grid (``EDM_SAMPLERS``: the ``edm`` model) |

The grammar is ``genjax.ode.spec``'s; ``SAMPLERS`` is the table of what a diffusion model accepts
(``EDM_SAMPLERS`` adds EDM's samplers for the variance-exploding EDM process).

Without ``@K`` a sampler takes every time a discrete model was trained at (1000 for a
continuous one). Every sampler is a small frozen dataclass called as
``sampler(problem, key, x_T) -> (x_0, {"nfe": ...})``; the steps are ``lax.scan`` loops (or a
diffrax solve) over a time grid, so one compiled program serves any batch. ``nfe`` counts calls
of the noise predictor (one classifier-free-guided call evaluates the network on a doubled batch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from genjax.diffusion.ddim import ddim_step
from genjax.diffusion.ddpm import VARIANCES, ancestral_step
from genjax.diffusion.edm import EDM_DOCS, EDM_SAMPLER_CLASSES
from genjax.diffusion.langevin import Langevin
from genjax.diffusion.predictions import Denoised
from genjax.diffusion.sde import SDE, bcast
from genjax.ode import ODE_SAMPLERS, SOLVERS, ODESolverConfig, SamplerKind, SamplerTable, odeint, sdeint


@dataclasses.dataclass(frozen=True)
class SamplingProblem:
    """What a sampler needs from a model.

    Attributes:
      sde: the forward process.
      eps_fn: ``(x [batch, *event], t scalar) -> eps_hat`` (guidance already applied).
      times: the model's training times (``ContinuousTimes`` / ``DiscreteTimes``): their grids.
      data_time: where DDPM / DDIM chains end (0 when ``s(0) = 0``, else the smallest time).
      t_min: where SDE, ODE and Langevin samplers stop (the smallest trained time).
      solver: the model's default ODE solve.
      clip: bound on ``x0_hat`` for DDPM / DDIM steps (images in [-1, 1]), or None.
      denoise_fn: ``(x, t) -> Denoised(x0_hat, eps_hat)``, each converted directly from the
        network's output (``Prediction.denoised``); None derives ``x0_hat`` from ``eps_fn``.
    """

    sde: SDE
    eps_fn: Callable[[jax.Array, jax.Array], jax.Array]
    times: Any
    data_time: float
    t_min: float
    solver: ODESolverConfig = ODESolverConfig()
    clip: float | None = None
    denoise_fn: Callable[[jax.Array, jax.Array], Denoised] | None = None

    def denoise(self, x: jax.Array, t) -> Denoised:
        if self.denoise_fn is not None:
            return self.denoise_fn(x, t)
        eps = self.eps_fn(x, t)
        m, s = self.sde.marginal(t)
        return Denoised((x - bcast(s, x) * eps) / bcast(m, x), eps)

    def score(self, x: jax.Array, t) -> jax.Array:
        _, s = self.sde.marginal(t)
        return -self.denoise(x, t).eps / bcast(s, x)

    def steps(self, steps: int | None) -> int:
        return self.times.default_steps if steps is None else steps


def _noise_keys(key, n):
    return jax.random.split(key, n)


@dataclasses.dataclass(frozen=True)
class Ancestral:
    """DDPM's ancestral sampling ``x_t -> x_s ~ p(x_s | x_t)``; the last step adds no noise."""

    steps: int | None = None
    variance: str = "small"
    OPTIONS: ClassVar[dict] = {"variance": str}

    def __post_init__(self):
        if self.variance not in VARIANCES:
            raise ValueError(f"ddpm variance must be one of {VARIANCES}, got {self.variance!r}")

    def __call__(self, problem: SamplingProblem, key, x):
        ts = problem.times.grid(problem.steps(self.steps), problem.data_time)
        n = ts.shape[0] - 1
        last = jnp.arange(n) == n - 1

        def body(x, inp):
            t, s, k, is_last = inp
            z = jnp.where(is_last, 0.0, jax.random.normal(k, x.shape, x.dtype))
            d = problem.denoise(x, t)
            return ancestral_step(x, d.eps, z, problem.sde, t, s, self.variance, problem.clip, x0=d.x0), None

        x, _ = jax.lax.scan(body, x, (ts[:-1], ts[1:], _noise_keys(key, n), last))
        return x, {"nfe": jnp.asarray(n)}


@dataclasses.dataclass(frozen=True)
class DDIM:
    """DDIM steps with variance knob ``eta`` (0: deterministic, 1: DDPM's posterior variance)."""

    steps: int | None = None
    eta: float = 0.0
    OPTIONS: ClassVar[dict] = {"eta": float}

    def __post_init__(self):
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"ddim eta must be in [0, 1], got {self.eta}")

    def __call__(self, problem: SamplingProblem, key, x):
        ts = problem.times.grid(problem.steps(self.steps), problem.data_time)
        n = ts.shape[0] - 1

        def body(x, inp):
            t, s, k = inp
            z = jax.random.normal(k, x.shape, x.dtype) if self.eta > 0 else None
            d = problem.denoise(x, t)
            return ddim_step(x, d.eps, z, problem.sde, t, s, self.eta, problem.clip, x0=d.x0), None

        x, _ = jax.lax.scan(body, x, (ts[:-1], ts[1:], _noise_keys(key, n)))
        return x, {"nfe": jnp.asarray(n)}


@dataclasses.dataclass(frozen=True)
class EulerMaruyama:
    """Euler-Maruyama on the reverse SDE with diffrax (in the forward time ``u = T - t``).

    The final step is taken without noise (the mean of the last transition), as in score_sde.
    """

    steps: int | None = None
    OPTIONS: ClassVar[dict] = {}

    def __call__(self, problem: SamplingProblem, key, x):
        ts = problem.times.grid(problem.steps(self.steps), problem.t_min)
        rsde = problem.sde.reverse(problem.score)
        # The reverse SDE in the direction of decreasing t: dx = -f dt + g dW (dt < 0 steps).
        x, nfe = sdeint(lambda t, y, _: rsde.drift(y, t), lambda t, y, _: rsde.diffusion(t), x, ts, key,
                        noise_last=False)
        return x, {"nfe": nfe}


@dataclasses.dataclass(frozen=True)
class PredictorCorrector:
    """Reverse-diffusion predictor with ``corrector_steps`` Langevin corrector steps per time.

    The corrector's step is ``2 alpha (snr |z| / |score|)^2`` with both norms averaged over the
    batch, as in score_sde: a per-example ratio would send the few points where the score is
    nearly zero (close to a mode) arbitrarily far in low dimensions. Returns the last
    predictor's mean (no final noise).
    """

    steps: int | None = None
    snr: float = 0.16
    corrector_steps: int = 1
    OPTIONS: ClassVar[dict] = {"snr": float, "corrector_steps": int}

    def __call__(self, problem: SamplingProblem, key, x):
        ts = problem.times.grid(problem.steps(self.steps), problem.t_min)
        n = ts.shape[0] - 1
        rsde = problem.sde.reverse(problem.score)

        def norms(v):
            return jnp.sqrt(jnp.sum(jnp.reshape(v, (v.shape[0], -1)) ** 2, axis=-1))

        def corrector(x, t, dt, k):
            alpha = problem.sde.corrector_alpha(t, dt)
            for j in range(self.corrector_steps):
                grad = problem.score(x, t)
                z = jax.random.normal(jax.random.fold_in(k, j), x.shape, x.dtype)
                ratio = jnp.mean(norms(z)) / jnp.maximum(jnp.mean(norms(grad)), 1e-12)
                step = 2.0 * alpha * (self.snr * ratio) ** 2
                x = x + bcast(step, x) * grad + bcast(jnp.sqrt(2.0 * step), x) * z
            return x

        def body(carry, inp):
            x, _ = carry
            t, s, k = inp
            k_c, k_p = jax.random.split(k)
            x = corrector(x, t, t - s, k_c)
            f, G = rsde.discretize(x, t, t - s)
            mean = x - f
            x = mean + bcast(G, x) * jax.random.normal(k_p, x.shape, x.dtype)
            return (x, mean), None

        (_, mean), _ = jax.lax.scan(body, (x, x), (ts[:-1], ts[1:], _noise_keys(key, n)))
        return mean, {"nfe": jnp.asarray(n * (1 + self.corrector_steps))}


@dataclasses.dataclass(frozen=True)
class ReverseDiffusion(PredictorCorrector):
    """The reverse-diffusion predictor alone (``pc`` without corrector)."""

    corrector_steps: int = 0
    OPTIONS: ClassVar[dict] = {}


@dataclasses.dataclass(frozen=True)
class ProbabilityFlow:
    """The probability-flow ODE from ``T`` to ``t_min``: the model's adaptive solve, or ``steps`` fixed steps."""

    steps: int | None = None
    solver: str | None = None
    rtol: float | None = None
    atol: float | None = None
    OPTIONS: ClassVar[dict] = {"solver": str, "rtol": float, "atol": float}

    def __post_init__(self):
        if self.solver is not None and self.solver not in SOLVERS:
            raise ValueError(f"ode solver must be one of {sorted(SOLVERS)}, got {self.solver!r}")

    def config(self, default: ODESolverConfig) -> ODESolverConfig:
        cfg = default
        if self.solver is not None:
            cfg = cfg.replace(solver=self.solver)
        if self.rtol is not None:
            cfg = cfg.replace(rtol=self.rtol)
        if self.atol is not None:
            cfg = cfg.replace(atol=self.atol)
        if self.steps is not None:
            cfg = cfg.replace(steps=self.steps, fixed_grid=True)
        return cfg

    def __call__(self, problem: SamplingProblem, key, x):
        del key
        rsde = problem.sde.reverse(problem.score, probability_flow=True)
        cfg = self.config(problem.solver)
        x, nfe = odeint(lambda t, y, _: rsde.drift(y, t), x, problem.times.t_max, problem.t_min, cfg)
        return x, {"nfe": nfe}


@dataclasses.dataclass(frozen=True)
class AnnealedLangevin:
    """Annealed Langevin dynamics (Song & Ermon 2019) down the model's noise levels.

    At level ``i`` with noise std ``s_i`` it runs ``steps`` unadjusted Langevin steps of size
    ``eps * s_i^2 / s_L^2`` (``s_L`` the smallest level); ``denoise`` ends with the Tweedie step
    ``x + s_L^2 score(x)`` (Jolicoeur-Martineau et al. 2021). A continuous-time model uses
    ``levels`` equally spaced times.
    """

    steps: int = 100
    eps: float = 2e-5
    levels: int | None = None
    denoise: int = 1
    OPTIONS: ClassVar[dict] = {"eps": float, "levels": int, "denoise": int}

    def __call__(self, problem: SamplingProblem, key, x):
        levels = self.levels or problem.times.num_levels
        ts = problem.times.grid(levels - 1, problem.t_min)
        _, stds = problem.sde.marginal(ts)
        sizes = self.eps * (stds / stds[-1]) ** 2

        def level(x, inp):
            t, h, k = inp
            chain = Langevin(h, score_fn=lambda y: problem.score(y, t))
            state = chain.init(x)
            state, _ = jax.lax.scan(lambda st, kk: (chain.step(st, kk), None), state, _noise_keys(k, self.steps))
            return state.x, None

        x, _ = jax.lax.scan(level, x, (ts, sizes, _noise_keys(key, ts.shape[0])))
        nfe = ts.shape[0] * (self.steps + 1)
        if self.denoise:
            x = x + bcast(stds[-1] ** 2, x) * problem.score(x, ts[-1])
            nfe += 1
        return x, {"nfe": jnp.asarray(nfe)}


SAMPLER_CLASSES: dict[str, type] = {
    "ddpm": Ancestral,
    "ddim": DDIM,
    "em": EulerMaruyama,
    "rd": ReverseDiffusion,
    "pc": PredictorCorrector,
    "ode": ProbabilityFlow,
    "ald": AnnealedLangevin,
}
_DOCS = {
    "ddpm": "ancestral sampling on K steps of the model's grid",
    "ddim": "DDIM, eta in [0, 1] (0: deterministic)",
    "em": "Euler-Maruyama on the reverse SDE",
    "rd": "reverse-diffusion predictor",
    "pc": "reverse-diffusion predictor + Langevin corrector",
    "ode": "probability-flow ODE with the model's solve",
    "ald": "annealed Langevin dynamics, S steps per noise level",
}
# What a diffusion model accepts: its own samplers and every ODE solver (on the PF-ODE).
SAMPLERS = ODE_SAMPLERS | SamplerTable({
    name: SamplerKind(options=cls.OPTIONS, doc=_DOCS[name]) for name, cls in SAMPLER_CLASSES.items()
})
# The EDM model's: all of the above and EDM's own samplers on the rho grid.
EDM_SAMPLERS = SAMPLERS | SamplerTable({
    name: SamplerKind(options=cls.OPTIONS, doc=EDM_DOCS[name]) for name, cls in EDM_SAMPLER_CLASSES.items()
})
_ALL_CLASSES = {**SAMPLER_CLASSES, **EDM_SAMPLER_CLASSES}


def parse_sampler(spec: str, table: SamplerTable = SAMPLERS):
    """``"ddim@50:eta=0.5"`` -> ``DDIM(steps=50, eta=0.5)``; ``"heun@8"`` -> the PF-ODE with 8 Heun
    steps; ``table`` says which names are accepted (``EDM_SAMPLERS`` for the EDM model). Raises
    ``genjax.ode.SpecError`` (a ``ValueError``) naming what is allowed."""
    parsed = table.parse(spec)
    if parsed.is_default:
        raise ValueError("'default' is the model's choice: resolve it with the model's default_sampler")
    kwargs = dict(parsed.options)
    if parsed.steps is not None:
        kwargs["steps"] = parsed.steps
    if parsed.name in SOLVERS:
        return ProbabilityFlow(solver=parsed.name, **kwargs)
    return _ALL_CLASSES[parsed.name](**kwargs)


def sample_chain(problem: SamplingProblem, sampler, key: jax.Array, num: int, event_shape) -> tuple[jax.Array, dict]:
    """Draw ``x_T`` from the prior and run ``sampler``."""
    k_prior, k_run = jax.random.split(key)
    x = problem.sde.prior_sample(k_prior, (num, *event_shape))
    return sampler(problem, k_run, x)


__all__ = [
    "EDM_SAMPLERS",
    "AnnealedLangevin",
    "Ancestral",
    "DDIM",
    "EulerMaruyama",
    "PredictorCorrector",
    "ProbabilityFlow",
    "ReverseDiffusion",
    "SAMPLERS",
    "SAMPLER_CLASSES",
    "SamplingProblem",
    "parse_sampler",
    "sample_chain",
]
