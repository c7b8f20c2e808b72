"""The VAE (Kingma & Welling 2014; Rezende et al. 2014) and what every model of the family shares.

``LatentVariableModel`` holds the parts common to the Gaussian VAE and the hierarchical VAE:
the training objective (ELBO with KL warm-up, free bits and KL balancing, or the IWAE bound),
``log_prob`` as the importance-weighted bound, prior sampling at a temperature,
``reconstruct``, the evaluation numbers (ELBO, its parts, KL per group, active units, the IWAE
bound at several K) and the reconstruction plots. A subclass supplies the network passes:

- ``_context(v, x)``: the deterministic encoder pass, computed once per example and shared by
  every posterior draw (the IWAE bound vmaps draws over it);
- ``_draw(v, ctx, x, key) -> ElboParts``: one posterior draw and its per-example terms;
- ``_location(v, ctx)``: the posterior draw at zero noise (``z = E_q[z | x]`` for a Gaussian);
- ``_prior_decoder(v, key, num, temperature)``: decoder parameters of prior draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genjax.bijectors import IAF, Affine, Chain, Coupling, MLPConditioner, RationalQuadraticSpline, Reverse
from genjax.distributions import StandardNormal
from genjax.model import ModelBase, Update
from genjax.nn import MLP
from genjax.ode import SamplerKind, SamplerTable
from genjax.vae.bounds import (
    active_units,
    free_bits_kl,
    gaussian_kl,
    importance_weighted_bound,
    kl_balance_coefficients,
    kl_weight,
)
from genjax.vae.likelihoods import LikelihoodHead, soft_clamp

GROUP = "vae"  # the one optimised parameter group
OBJECTIVES = ("elbo", "iwae")
POSTERIORS = ("gaussian", "iaf", "coupling", "spline")

_TEMPERATURE = {"temperature": float}
VAE_SAMPLERS = SamplerTable(
    {"mean": SamplerKind(options=_TEMPERATURE, steps="none",
                         doc="z ~ prior (scaled by the temperature), x = E[x | z]")},
    default=SamplerKind(options=_TEMPERATURE, steps="none",
                        doc="z ~ prior, x ~ p(x | z), both at a temperature (0: prior means and the decoder's mode)"),
)


class ElboParts(NamedTuple):
    """The per-example terms of one posterior draw ``z ~ q(z | x)``.

    Attributes:
      recon: ``[batch]`` ``log p(x | z)``.
      kl: ``[batch, groups]`` KL of each latent group (analytic where the posterior allows it,
        else ``log q(z | x) - log p(z)`` at the draw); its sum is the KL of the ELBO.
      kl_units: ``[batch, M]`` the KL split as free bits sees it (per latent dimension, or per group).
      log_weight: ``[batch]`` ``log p(x, z) - log q(z | x)`` at the draw (the importance weight).
    """

    recon: jax.Array
    kl: jax.Array
    kl_units: jax.Array
    log_weight: jax.Array


class LatentVariableModel(ModelBase):
    """Training objectives, the IWAE bound, sampling and evaluation of a latent-variable model.

    ``params = {"vae": variables}`` (one optimised group; the train step gives its loss the step
    number, which KL warm-up needs). ``log_prob`` is the importance-weighted bound with
    ``eval_samples`` draws (a lower bound on ``log p(x)``), evaluated ``eval_chunk`` draws at a
    time.

    Args (keywords of every subclass):
      likelihood: ``p(x | z)`` (``genjax.vae.likelihoods``).
      event_shape: shape of one example.
      objective: "elbo" (with ``train_samples`` draws averaged) or "iwae" (the IWAE bound with
        ``K = train_samples``).
      train_samples: posterior draws per example in training.
      kl_warmup_steps: the KL coefficient rises linearly from 0 to 1 over these steps (0: off).
      free_bits: nats per latent dimension below which KL is not penalised (0: off).
      kl_balance: NVAE's KL balancing of the groups during warm-up.
      eval_samples, eval_chunk: ``K`` of ``log_prob`` and draws per vmapped chunk.
      eval_ks: the ``K`` values at which ``extra_metrics`` reports the IWAE bound.
      eval_batch: held-out examples per compiled evaluation call.
      active_threshold: posterior-mean variance above which a latent unit counts as active.
    """

    samplers = VAE_SAMPLERS
    log_prob_kind = "bound"
    update_plan = (Update(GROUP, "train_loss"),)

    def __init__(self, *, likelihood, event_shape: Sequence[int], objective: str = "elbo", train_samples: int = 1,
                 kl_warmup_steps: int = 0, free_bits: float = 0.0, kl_balance: bool = False,
                 eval_samples: int = 1000, eval_chunk: int = 100, eval_ks: Sequence[int] = (10, 100),
                 eval_batch: int = 500, active_threshold: float = 0.01):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.likelihood = likelihood
        self.event_shape = tuple(event_shape)
        self.objective = objective
        self.train_samples = int(train_samples)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.free_bits = float(free_bits)
        self.kl_balance = bool(kl_balance)
        self.eval_samples = int(eval_samples)
        self.eval_chunk = int(eval_chunk)
        self.eval_ks = tuple(int(k) for k in eval_ks)
        self.eval_batch = int(eval_batch)
        self.active_threshold = float(active_threshold)
        # A Bernoulli decoder scores binarised pixels: its log_prob is of discrete values.
        self.log_prob_discrete = bool(likelihood.discrete)
        self._jitted: dict = {}

    # -- what a subclass provides ---------------------------------------------------------------

    group_sizes: tuple[int, ...] = ()  # latent dimensions of each group
    free_bits_units: tuple[int, ...] = ()  # latent dimensions of each column of ElboParts.kl_units

    def _context(self, v, x):
        raise NotImplementedError

    def _draw(self, v, ctx, x, key) -> ElboParts:
        raise NotImplementedError

    def _location(self, v, ctx) -> tuple[list[jax.Array], jax.Array]:
        """``(per-group latents [batch, d_l] at zero noise, the decoder's parameters there)``; the
        latents are what active units are counted on."""
        raise NotImplementedError

    def _prior_decoder(self, v, key, num: int, temperature: float):
        raise NotImplementedError

    def _regularizer(self, params) -> tuple[jax.Array, dict]:
        return jnp.zeros(()), {}

    # -- training --------------------------------------------------------------------------------

    def _draws(self, v, ctx, x, key, num: int) -> ElboParts:
        """``num`` posterior draws of every row, stacked ``[num, batch, ...]``."""
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num))
        return jax.vmap(lambda k: self._draw(v, ctx, x, k))(keys)

    def train_loss(self, params, batch: dict, key: jax.Array, step=None):
        """The training loss at ``step`` (warm-up needs it; ``None``: after the warm-up).

        ELBO objective: ``-(mean recon - beta sum_l gamma_l max(free, mean KL_l))`` with ``beta``
        the warm-up weight and ``gamma`` the KL-balancing coefficients; IWAE objective:
        ``-mean IWAE_K``. Metrics: the ELBO and its parts (unweighted), ``beta``, and the KL of
        each group (``kl/group<l>``).
        """
        v = params[GROUP]
        k_obs, k_z = jax.random.split(key)
        x = self.likelihood.observe(k_obs, batch["x"])
        ctx = self._context(v, x)
        parts = self._draws(v, ctx, x, k_z, self.train_samples)  # [K, batch, ...]
        recon = jnp.mean(parts.recon)
        kl_groups = jnp.mean(parts.kl, axis=(0, 1))  # [groups]
        kl = jnp.sum(kl_groups)
        beta = kl_weight(step, self.kl_warmup_steps)
        metrics = {"elbo": recon - kl, "recon": recon, "kl": kl}
        if len(self.group_sizes) > 1:
            metrics.update({f"kl/group{l}": kl_groups[l] for l in range(len(self.group_sizes))})
        if self.objective == "iwae":
            bound = jax.nn.logsumexp(parts.log_weight, axis=0) - math.log(self.train_samples)
            loss = -jnp.mean(bound)
            metrics["iwae"] = -loss
        else:
            kl_units = jnp.reshape(parts.kl_units, (-1, parts.kl_units.shape[-1]))
            per_unit = free_bits_kl(kl_units, self.free_bits, self.free_bits_units)
            if self.kl_balance:
                gamma = kl_balance_coefficients(kl_units, self.free_bits_units, beta)
                per_unit = gamma * per_unit
            loss = -(recon - beta * jnp.sum(per_unit))
            metrics["beta"] = beta
        reg, reg_metrics = self._regularizer(params)
        return loss + reg, {**metrics, **reg_metrics}

    def loss(self, params, batch: dict, key: jax.Array):
        """The training loss after warm-up (the contract's ``loss``)."""
        return self.train_loss(params, batch, key, None)

    # -- the bound -----------------------------------------------------------------------------

    def elbo(self, params, x: jax.Array, key: jax.Array) -> jax.Array:
        """A one-draw estimate of the ELBO of each row, ``recon - KL``: ``[batch]``."""
        v = params[GROUP]
        k_obs, k_z = jax.random.split(key)
        x = self.likelihood.observe(k_obs, x)
        parts = self._draw(v, self._context(v, x), x, k_z)
        return parts.recon - jnp.sum(parts.kl, axis=-1)

    def log_weights(self, params, x: jax.Array, key: jax.Array) -> jax.Array:
        """``log p(x, z) - log q(z | x)`` of one draw per row of (observed) ``x``: ``[batch]``."""
        v = params[GROUP]
        return self._draw(v, self._context(v, x), x, key).log_weight

    def iwae(self, params, x: jax.Array, key: jax.Array, num_samples: int, chunk_size: int | None = None) -> jax.Array:
        """The IWAE bound ``log (1/K) sum_k w_k`` of each row of (observed) ``x``, ``K = num_samples``:
        ``[batch]``. The encoder runs once; the draws are vmapped ``chunk_size`` at a time."""
        v = params[GROUP]
        ctx = self._context(v, x)
        return importance_weighted_bound(lambda k: self._draw(v, ctx, x, k).log_weight, key, num_samples,
                                         chunk_size or self.eval_chunk)

    def log_prob(self, params, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """The IWAE lower bound on ``log p(x)`` with ``eval_samples`` draws: ``[batch]`` (key 0 if None).

        For a Bernoulli decoder it bounds the log-probability of one binarisation of ``x``
        (drawn from ``key``), not a density of ``x``.
        """
        key = jax.random.key(0) if key is None else key
        k_obs, k_z = jax.random.split(key)
        return self.iwae(params, self.likelihood.observe(k_obs, x), k_z, self.eval_samples)

    # -- sampling and reconstruction -----------------------------------------------------------

    def _output(self, key, out, spec_name: str, temperature: float):
        if spec_name == "mean":
            return self.likelihood.mean(out)
        return self.likelihood.sample(key, out, temperature)

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None,
                          temperature: float | None = None):
        """``(x [num, *event], {})`` from the prior at a temperature ``T`` (spec option or keyword).

        ``T`` scales the noise of every latent draw (``z = mu_p + T sigma_p eps``) and of the
        decoder (Gaussian std, logistic scale, Bernoulli logits divided by ``T``); ``T = 0`` gives
        the prior means and the decoder's mode. Sampler ``"mean"`` returns ``E[x | z]`` instead.
        """
        spec = self.parse_sampler(sampler)
        t = float(spec.get("temperature", 1.0) if temperature is None else temperature)
        k_z, k_x = jax.random.split(key)
        out = self._prior_decoder(params[GROUP], k_z, num, t)
        return self._output(k_x, out, spec.name, t), {}

    def reconstruct(self, params, x: jax.Array, key: jax.Array | None = None, *, mean: bool = True) -> jax.Array:
        """``x_hat [batch, *event]``: decoded from the posterior location (``key`` None) or a draw.

        ``mean``: the decoder's mean ``E[x | z]``; otherwise a draw of ``p(x | z)`` (needs ``key``).
        """
        v = params[GROUP]
        k_obs, k_z, k_x = jax.random.split(jax.random.key(0) if key is None else key, 3)
        obs = self.likelihood.observe(k_obs, x)
        ctx = self._context(v, obs)
        out = self._location(v, ctx)[1] if key is None else self._draw_decoder(v, ctx, obs, k_z)
        return self.likelihood.mean(out) if mean else self.likelihood.sample(k_x, out, 1.0)

    def _draw_decoder(self, v, ctx, x, key):
        raise NotImplementedError

    # -- evaluation ----------------------------------------------------------------------------

    def _jit(self, name, fn):
        if name not in self._jitted:
            self._jitted[name] = jax.jit(fn)
        return self._jitted[name]

    def _eval_terms(self, params, x, key):
        """Per-example evaluation terms of one batch: ELBO parts, IWAE bounds, posterior locations."""
        v = params[GROUP]
        k_obs, k_z, k_iw = jax.random.split(key, 3)
        obs = self.likelihood.observe(k_obs, x)
        ctx = self._context(v, obs)
        parts = self._draw(v, ctx, obs, k_z)
        out = {"recon": parts.recon, "kl_groups": parts.kl,
               "locations": tuple(self._location(v, ctx)[0])}
        for k in self.eval_ks:
            out[f"iwae/k={k}"] = importance_weighted_bound(
                lambda kk: self._draw(v, ctx, obs, kk).log_weight, jax.random.fold_in(k_iw, k), k, self.eval_chunk)
        return out

    def extra_metrics(self, params, key: jax.Array, batch: dict) -> dict:
        """ELBO, its reconstruction and KL parts, the KL of each group, the IWAE bound at each of
        ``eval_ks``, and the active units (in all and per group), over ``batch`` (held-out data).

        All in nats per example, means over the examples. Active units (Burda et al. 2016) count
        the latent dimensions whose posterior location varies across the examples with variance
        above ``active_threshold``: ``E_q[z | x]`` for a Gaussian posterior, the draw at zero noise
        for a flow posterior, and for a hierarchical model's groups the posterior mean's offset
        from the prior mean in prior standard deviations (see ``_location``).
        """
        fn = self._jit("eval_terms", self._eval_terms)
        x = jnp.asarray(batch["x"])
        chunks = [jax.device_get(fn(params, x[i : i + self.eval_batch], jax.random.fold_in(key, i)))
                  for i in range(0, x.shape[0], self.eval_batch)]
        terms = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0] if k != "locations"}
        locations = [np.concatenate([c["locations"][g] for c in chunks]) for g in range(len(chunks[0]["locations"]))]
        kl_groups = terms["kl_groups"].mean(axis=0)
        out = {"elbo": float(np.mean(terms["recon"]) - kl_groups.sum()), "recon": float(np.mean(terms["recon"])),
               "kl": float(kl_groups.sum())}
        for g, value in enumerate(kl_groups):
            out[f"kl/group{g}"] = float(value)
        for k in self.eval_ks:
            out[f"iwae/k={k}"] = float(np.mean(terms[f"iwae/k={k}"]))
        counts = [int(active_units(jnp.asarray(loc), self.active_threshold)) for loc in locations]
        out["active_units"] = float(sum(counts))
        if len(counts) > 1:
            out.update({f"active_units/group{g}": float(c) for g, c in enumerate(counts)})
        return out

    def plot_extras(self, params, key: jax.Array, dataset, directory, tag: str) -> list:
        """Reconstructions of held-out examples and samples at several temperatures (PNG files)."""
        from genjax.vae import plots

        return plots.write_plots(self, params, key, dataset, directory, tag)


class VAENet(nn.Module):
    """Encoder, posterior flow and decoder of the (one-group) VAE on flattened examples.

    ``encode(x) -> (mean, log_std, context)`` with the log-scale soft-clamped to
    ``+-max_log_std``; ``posterior(mean, log_std, context, eps) -> (z, log q(z | x))``: the base
    Gaussian draw pushed through the flow (IAF in its parallel direction, couplings, or spline
    couplings) conditioned on ``context``, so one pass gives the draw and its density;
    ``decode(z) -> likelihood params [batch, *event, P]``.
    """

    event_shape: tuple[int, ...]
    latent_dim: int
    likelihood: Any
    hidden: Sequence[int] = (256, 256)
    activation: str = "silu"
    max_log_std: float = 5.0
    posterior_kind: str = "gaussian"
    flow_layers: int = 2
    flow_hidden: Sequence[int] = (64, 64)
    context_dim: int = 16
    spline_bins: int = 8
    spline_bound: float = 3.0

    def setup(self):
        context = 0 if self.posterior_kind == "gaussian" else self.context_dim
        self.encoder = MLP(tuple(self.hidden), 2 * self.latent_dim + context, activation=self.activation)
        dim = math.prod(self.event_shape)
        self.decoder = MLP(tuple(reversed(self.hidden)), dim * self.likelihood.net_outputs, activation=self.activation)
        self.head = LikelihoodHead(self.likelihood, self.event_shape)
        self.flow = self._flow() if self.posterior_kind != "gaussian" else None

    def _flow(self):
        layers = []
        for i in range(self.flow_layers):
            if self.posterior_kind == "iaf":
                layers.append(IAF(hidden=tuple(self.flow_hidden), transform=Affine(), activation="relu"))
                if i < self.flow_layers - 1:
                    layers.append(Reverse())
            else:
                transform = Affine() if self.posterior_kind == "coupling" else RationalQuadraticSpline(
                    num_bins=self.spline_bins, bound=self.spline_bound)
                layers.append(Coupling(MLPConditioner(tuple(self.flow_hidden)), transform, mask="half", parity=i % 2))
        return Chain(layers)

    def encode(self, x):
        b = x.shape[0]
        out = self.encoder(jnp.reshape(x, (b, -1)))
        d = self.latent_dim
        context = out[:, 2 * d :] if self.posterior_kind != "gaussian" else None
        return out[:, :d], soft_clamp(out[:, d : 2 * d], self.max_log_std), context

    def posterior(self, mean, log_std, context, eps):
        z = mean + jnp.exp(log_std) * eps
        log_q = StandardNormal((self.latent_dim,)).log_prob(eps) - jnp.sum(log_std, axis=-1)
        if self.flow is not None:
            z, log_det = self.flow.forward_and_log_det(z, context)
            log_q = log_q - log_det
        return z, log_q

    def decode(self, z):
        raw = self.decoder(z)
        raw = jnp.reshape(raw, (z.shape[0], *self.event_shape, self.likelihood.net_outputs))
        return self.head(raw)

    def __call__(self, x, eps):
        mean, log_std, context = self.encode(x)
        z, _ = self.posterior(mean, log_std, context, eps)
        return self.decode(z)


class VAE(LatentVariableModel):
    """The Gaussian VAE: ``p(z) = N(0, I)``, ``q(z | x)`` a diagonal Gaussian (optionally pushed
    through a flow), ``p(x | z)`` a Gaussian, Bernoulli or discretised-logistic decoder.

    With a Gaussian posterior the KL of the ELBO is analytic (per latent dimension, which free
    bits uses); with a flow posterior it is ``log q(z | x) - log p(z)`` at the draw. One latent
    group. See ``LatentVariableModel`` for training, bounds, sampling and evaluation.

    Args:
      net: a ``VAENet``.
      **kwargs: those of ``LatentVariableModel``.
    """

    def __init__(self, net: VAENet, **kwargs):
        super().__init__(likelihood=net.likelihood, event_shape=net.event_shape, **kwargs)
        self.net = net
        self.latent_dim = net.latent_dim
        self.prior = StandardNormal((net.latent_dim,))
        self.group_sizes = (net.latent_dim,)
        gaussian = net.posterior_kind == "gaussian"
        # Free bits per latent dimension with the analytic KL; per group with a flow's draw KL.
        self.free_bits_units = (1,) * net.latent_dim if gaussian else (net.latent_dim,)

    def init(self, key: jax.Array, batch: dict):
        x = batch["x"]
        eps = jnp.zeros((x.shape[0], self.latent_dim), x.dtype)
        return {GROUP: self.net.init(key, x, eps)}

    def _apply(self, v, *args, method):
        return self.net.apply(v, *args, method=method)

    def _context(self, v, x):
        return self._apply(v, x, method=VAENet.encode)

    def _draw(self, v, ctx, x, key) -> ElboParts:
        mean, log_std, context = ctx
        eps = jax.random.normal(key, mean.shape, mean.dtype)
        z, log_q = self._apply(v, mean, log_std, context, eps, method=VAENet.posterior)
        recon = self.likelihood.log_prob(x, self._apply(v, z, method=VAENet.decode))
        log_p = self.prior.log_prob(z)
        if self.net.posterior_kind == "gaussian":
            kl_units = gaussian_kl(mean, log_std)
            kl = jnp.sum(kl_units, axis=-1, keepdims=True)
        else:
            kl = (log_q - log_p)[:, None]
            kl_units = kl
        return ElboParts(recon, kl, kl_units, recon + log_p - log_q)

    def _location(self, v, ctx):
        mean, log_std, context = ctx
        z, _ = self._apply(v, mean, log_std, context, jnp.zeros_like(mean), method=VAENet.posterior)
        return [z], self._apply(v, z, method=VAENet.decode)

    def _draw_decoder(self, v, ctx, x, key):
        mean, log_std, context = ctx
        z, _ = self._apply(v, mean, log_std, context, jax.random.normal(key, mean.shape, mean.dtype),
                           method=VAENet.posterior)
        return self._apply(v, z, method=VAENet.decode)

    def _prior_decoder(self, v, key, num: int, temperature: float):
        z = temperature * self.prior.sample(key, num)
        return self._apply(v, z, method=VAENet.decode)

    def encode(self, params, x: jax.Array):
        """``(mean, log_std) [batch, latent_dim]`` of the base Gaussian of ``q(z | x)``."""
        mean, log_std, _ = self._context(params[GROUP], x)
        return mean, log_std

    def decode(self, params, z: jax.Array) -> jax.Array:
        """Decoder parameters ``[batch, *event, P]`` of ``p(x | z)``."""
        return self._apply(params[GROUP], z, method=VAENet.decode)
