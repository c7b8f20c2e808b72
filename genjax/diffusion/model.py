"""The diffusion Model: a noise-predicting network on a noising process, as a genjax Model.

One class covers DDPM (a VP process trained at 1000 discrete times), score SDEs (VP, sub-VP,
VE in continuous time) and NCSN (VE at a few geometric noise levels): they differ in the
process, the training times, what the network predicts and the objective, all plain objects
chosen by the builders (``genjax.diffusion.builders``). Every sampler of
``genjax.diffusion.samplers`` and both likelihoods work with any of them where they are
defined.

Data are mapped to the model's space by an affine ``transform`` (dequantized data in
``[lo, hi)`` to ``[-1, 1)``); ``sample`` maps back and ``log_prob`` adds the log-determinant,
so likelihoods are densities of the data as the dataset gives it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.diffusion import ddim as ddim_lib
from genjax.diffusion.ddpm import Bins, prior_kl, vlb_term
from genjax.diffusion.guidance import (
    cfg_combine,
    classifier_guided_eps,
    drop_labels,
    label_grad,
)
from genjax.diffusion.losses import DenoisingLoss
from genjax.diffusion.predictions import Denoised, EpsPrediction, Prediction
from genjax.diffusion.samplers import SAMPLERS, SamplingProblem, parse_sampler, sample_chain
from genjax.diffusion.sde import SDE, bcast
from genjax.diffusion.times import ContinuousTimes
from genjax.model import ModelBase
from genjax.ode import ODESolverConfig, SamplerTable, ode_log_prob


@dataclasses.dataclass(frozen=True)
class Affine:
    """``y = scale * x + shift`` elementwise, data -> model space."""

    scale: float = 1.0
    shift: float = 0.0

    @classmethod
    def for_dataset(cls, dataset, rescale: bool = True) -> Affine:
        """Dequantized data ``[lo, hi)`` to ``[-1, 1)`` when ``rescale`` (identity for other data)."""
        dq = dataset.dequantization
        if dq is None or not rescale:
            return cls()
        lo, hi = dq.value_range
        scale = 2.0 / (hi - lo)
        return cls(scale, -1.0 - scale * lo)

    def forward(self, x):
        return self.scale * x + self.shift

    def inverse(self, y):
        return (y - self.shift) / self.scale

    def log_det(self, num_dims: int) -> float:
        """``log |dy/dx|`` of one example."""
        return num_dims * math.log(abs(self.scale))


@dataclasses.dataclass(frozen=True)
class ODELikelihood:
    """``log p(x)`` through the probability-flow ODE from ``t_min`` to ``T`` (exact up to the
    solver's tolerance and the prior mismatch at ``T``; a density of ``p_{t_min}``).

    ``divergence``: "exact" (``D`` JVPs per evaluation) or "hutchinson" (one probe per example,
    unbiased for ``p`` but not for ``log p``).

    Stats: ``nfe`` and ``prior_logp [batch]``, the ``log p_T(x_T)`` part of ``log p``; the rest is
    the divergence integral. A trajectory that leaves the region the network was trained on
    shows up as a large ``|x_T|``, i.e. a very negative ``prior_logp``.
    """

    divergence: str = "exact"
    probe: str = "rademacher"
    solver: ODESolverConfig | None = None  # None: the model's ODE solve

    @property
    def kind(self) -> str:
        return "exact" if self.divergence == "exact" else "estimate"

    def __call__(self, model, params, y: jax.Array, key: jax.Array):
        rsde = model.sde.reverse(lambda x, t: model.score(params, x, t), probability_flow=True)
        logp, y_T, nfe = ode_log_prob(lambda t, x, _: rsde.drift(x, t), model.sde.prior_logp, y, model.times.t_min,
                                      model.sde.T, self.solver or model.solver, divergence=self.divergence, key=key,
                                      probe=self.probe)
        return logp, {"nfe": nfe, "prior_logp": model.sde.prior_logp(y_T)}


@dataclasses.dataclass(frozen=True)
class VLBLikelihood:
    """DDPM's variational lower bound on ``log p`` summed over all the model's discrete times
    (one noise draw per term). With ``bins`` the decoder is discretised and the bound is on the
    probability of the data's bin, returned as the log-density of the piecewise-constant
    density on bins (``log P(bin) - D log width``)."""

    variance: str = "large"
    bins: Bins | None = None
    kind = "bound"

    def __call__(self, model, params, y: jax.Array, key: jax.Array):
        values = model.times.array()
        denoise_fn = lambda x, t: model.denoise(params, x, t)  # noqa: E731

        def body(total, inp):
            i, k = inp  # one time for the whole batch
            noise = jax.random.normal(k, y.shape, y.dtype)
            term = vlb_term(model.sde, denoise_fn, y, noise, model.times.previous(i), values[i], first=i == 0,
                            variance=self.variance, bins=self.bins)
            return total + term, None

        idx = jnp.arange(values.shape[0])
        total, _ = jax.lax.scan(body, prior_kl(model.sde, y), (idx, jax.random.split(key, values.shape[0])))
        logp = -total
        if self.bins is not None:
            logp = logp - math.prod(y.shape[1:]) * math.log(self.bins.width)
        return logp, {"nfe": jnp.asarray(values.shape[0])}


class Diffusion(ModelBase):
    """A diffusion / score model.

    Args:
      net: Linen module ``(x [batch, *event], t [batch], label [batch] | None) -> [batch, *event]``.
      event_shape: shape of one example.
      sde: the noising process (``VPSDE``, ``SubVPSDE``, ``VESDE``).
      times: training times (``ContinuousTimes`` or ``DiscreteTimes``).
      prediction: what the network predicts (eps, x0, v or score).
      objective: the training loss object (``DenoisingLoss``, ``VLBLoss``, ``SlicedScoreLoss``).
      likelihood: what ``log_prob`` computes (``ODELikelihood`` or ``VLBLikelihood``).
      num_classes: number of labels of a class-conditional net (label id ``num_classes`` is
        the null class), or None.
      label_dropout: probability of training with the null label (classifier-free guidance).
      transform: data -> model space map.
      default_sampler: the spec ``sample`` uses when given none or "default".
      solver: the default ODE solve of the "ode" sampler.
      clip: bound on ``x0_hat`` in DDPM / DDIM steps (e.g. 1.0 for images), or None.
      samplers: the sampler specs accepted (``SAMPLERS``; ``EDM_SAMPLERS`` for the EDM process).

    ``log_prob_kind`` follows the likelihood: "exact" (PF-ODE, exact trace), "estimate" (PF-ODE,
    Hutchinson's trace) or "bound" (the variational bound).
    """

    def __init__(
        self,
        net: nn.Module,
        event_shape: tuple[int, ...],
        *,
        sde: SDE,
        times: Any = ContinuousTimes(),
        prediction: Prediction = EpsPrediction(),
        objective: Any = DenoisingLoss(),
        likelihood: Any = ODELikelihood(),
        num_classes: int | None = None,
        label_dropout: float = 0.0,
        transform: Affine = Affine(),
        default_sampler: str = "ode",
        solver: ODESolverConfig = ODESolverConfig(rtol=1e-5, atol=1e-5),
        clip: float | None = None,
        samplers: SamplerTable = SAMPLERS,
    ):
        self.samplers = samplers
        self.net = net
        self.event_shape = tuple(event_shape)
        self.sde = sde
        self.times = times
        self.prediction = prediction
        self.objective = objective
        self.likelihood = likelihood
        self.num_classes = num_classes
        self.label_dropout = label_dropout
        self.transform = transform
        self.default_sampler = default_sampler
        self.solver = solver
        self.clip = clip
        self.log_prob_kind = likelihood.kind
        parse_sampler(default_sampler, samplers)  # fail early on a bad spec
        with jax.ensure_compile_time_eval():
            _, s0 = sde.marginal(0.0)
            # Where DDPM / DDIM chains end: 0 if the process is noise-free there, else t_min.
            self.data_time = 0.0 if float(s0) == 0.0 else times.t_min

    @property
    def num_dims(self) -> int:
        return math.prod(self.event_shape)

    # -- the network ---------------------------------------------------------------------

    def _labels(self, label, n: int):
        if self.num_classes is None:
            return None
        if label is None:
            return jnp.full((n,), self.num_classes, jnp.int32)
        return jnp.broadcast_to(jnp.asarray(label, jnp.int32), (n,))

    def init(self, key: jax.Array, batch: dict) -> Any:
        x = self.transform.forward(batch["x"])
        return self.net.init(key, x, jnp.zeros(x.shape[:1], x.dtype), self._labels(batch.get("label"), x.shape[0]))

    def _coefficients(self, x: jax.Array, t):
        """``(t [batch], m, s)`` with ``m, s`` shaped to broadcast against ``x``."""
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        m, s = self.sde.marginal(t)
        return t, bcast(m, x), bcast(s, x)

    def net_output(self, params, x: jax.Array, t, label=None) -> jax.Array:
        """The raw network output at ``x [batch, *event]`` (model space), ``t`` scalar or ``[batch]``
        (the network sees the prediction's ``net_inputs``: EDM's ``c_in x``, ``c_noise``)."""
        t, m, s = self._coefficients(x, t)
        x_in, t_in = self.prediction.net_inputs(x, t, m, s)
        return self.net.apply(params, x_in, t_in, self._labels(label, x.shape[0]))

    def denoise(self, params, x: jax.Array, t, label=None) -> Denoised:
        """``Denoised(x0_hat, eps_hat)`` at ``(x, t)``, each converted directly from the network's output."""
        out = self.net_output(params, x, t, label)
        _, m, s = self._coefficients(x, t)
        return self.prediction.denoised(out, x, m, s)

    def eps(self, params, x: jax.Array, t, label=None) -> jax.Array:
        """The noise prediction ``eps_hat(x, t)`` (null label when ``label`` is None)."""
        return self.denoise(params, x, t, label).eps

    def score(self, params, x: jax.Array, t, label=None) -> jax.Array:
        """The model's ``grad log p_t(x)`` (``-eps_hat / s(t)``, or a score network's own output)."""
        out = self.net_output(params, x, t, label)
        _, m, s = self._coefficients(x, t)
        return self.prediction.to_score(out, x, m, s)

    def guided_eps_fn(self, params, *, label=None, guidance=None, classifier=None, classifier_scale: float = 1.0):
        """``(x, t) -> eps``: the noise reading of ``guided_denoise_fn`` (same arguments)."""
        denoise = self.guided_denoise_fn(params, label=label, guidance=guidance, classifier=classifier,
                                         classifier_scale=classifier_scale)
        return lambda x, t: denoise(x, t).eps

    def guided_denoise_fn(self, params, *, label=None, guidance=None, classifier=None, classifier_scale: float = 1.0):
        """``(x, t) -> Denoised`` with classifier-free guidance weight ``guidance`` and/or classifier guidance.

        Both readings are guided alike: ``x0`` and ``eps`` are affine in each other with weights
        summing to one, so ``x0_u + w (x0_c - x0_u)`` is the clean estimate of the guided noise;
        classifier guidance moves ``eps`` by ``-scale s grad`` and ``x0`` by ``+scale s^2 / m grad``.

        Args:
          label: class id (int or ``[batch]``), or None for the unconditional model.
          guidance: ``w`` of ``eps_u + w (eps_c - eps_u)``; None means the plain conditional
            model (``w = 1``).
          classifier: ``log_p_y(x, t, label) -> [batch]`` of a noisy classifier in model space
            (``NoisyClassifier.log_prob_fn(params)``), or None.
          classifier_scale: its scale ``s``.
        """
        if (guidance is not None or classifier is not None) and label is None:
            raise ValueError("guidance needs a label")
        if guidance is not None and self.num_classes is None:
            raise ValueError("classifier-free guidance needs a class-conditional model (num_classes)")

        def denoise_fn(x, t):
            n = x.shape[0]
            if guidance is None:
                d = self.denoise(params, x, t, label)
            else:
                y = self._labels(label, n)
                null = jnp.full((n,), self.num_classes, jnp.int32)
                both = self.denoise(params, jnp.concatenate([x, x]), t, jnp.concatenate([y, null]))
                d = Denoised(*(cfg_combine(v[:n], v[n:], guidance) for v in both))
            if classifier is not None:
                y = jnp.broadcast_to(jnp.asarray(label, jnp.int32), (n,))
                m, s = self.sde.marginal(t)
                grad = label_grad(classifier, x, t, y)
                eps = classifier_guided_eps(d.eps, s, grad, classifier_scale)
                d = Denoised(d.x0 + bcast(classifier_scale * s**2 / m, x) * grad, eps)
            return d

        return denoise_fn

    # -- the Model contract ---------------------------------------------------------------

    def loss(self, params, batch: dict, key: jax.Array):
        k_drop, k_loss = jax.random.split(key)
        x0 = self.transform.forward(batch["x"])
        label = batch.get("label") if self.num_classes is not None else None
        if label is not None and self.label_dropout > 0:
            label = drop_labels(k_drop, label, self.label_dropout, self.num_classes)
        terms = self.objective(self, params, x0, label, k_loss)
        return jnp.mean(terms.total), terms.metrics()

    def problem(self, params, **guidance) -> SamplingProblem:
        denoise = self.guided_denoise_fn(params, **guidance)
        return SamplingProblem(self.sde, lambda x, t: denoise(x, t).eps, self.times, self.data_time,
                               self.times.t_min, self.solver, self.clip, denoise_fn=denoise)

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None, label=None,
                          guidance=None, classifier=None, classifier_scale: float = 1.0):
        """``(x [num, *event], {"nfe"})`` in data space; see ``genjax.diffusion.samplers`` for specs
        and ``guided_eps_fn`` for the guidance arguments."""
        spec = self.default_sampler if sampler in (None, "default") else sampler
        problem = self.problem(params, label=label, guidance=guidance, classifier=classifier,
                               classifier_scale=classifier_scale)
        y, stats = sample_chain(problem, parse_sampler(spec, self.samplers), key, num, self.event_shape)
        return self.transform.inverse(y), stats

    def log_prob(self, params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """``log p(x)`` of the unconditional model, ``x [batch, *event] -> [batch]``.

        With ``ODELikelihood`` the probability-flow ODE density (exact up to solver tolerance);
        with ``VLBLikelihood`` a lower bound (DDPM's variational bound).
        """
        return self.log_prob_with_stats(params, x, key)[0]

    def log_prob_with_stats(self, params, x: jax.Array, key: jax.Array | None = None):
        key = jax.random.key(0) if key is None else key
        y = self.transform.forward(x)
        logp, stats = self.likelihood(self, params, y, key)
        return logp + self.transform.log_det(self.num_dims), stats

    # -- DDIM inversion -------------------------------------------------------------------

    def _ddim_grid(self, steps: int | None):
        return self.times.grid(steps or self.times.default_steps, self.data_time)[::-1]

    def encode(self, params, x: jax.Array, *, steps: int | None = None, label=None) -> jax.Array:
        """Deterministic DDIM encoding of data ``x`` into latents at ``t = T``."""
        denoise = self.guided_denoise_fn(params, label=label)
        return ddim_lib.encode(denoise, self.transform.forward(x), self.sde, self._ddim_grid(steps))

    def decode(self, params, z: jax.Array, *, steps: int | None = None, label=None) -> jax.Array:
        """Deterministic DDIM decoding of latents ``z`` back to data space."""
        denoise = self.guided_denoise_fn(params, label=label)
        return self.transform.inverse(ddim_lib.decode(denoise, z, self.sde, self._ddim_grid(steps)))
