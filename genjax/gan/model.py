"""Adversarial models: a GAN and denoising diffusion GANs (DDGAN), as genjax Models.

Both keep two parameter groups, ``{"gen": ..., "disc": ...}``, and declare the update plan of
one train step: ``n_critic`` discriminator updates (each with its own key), then one generator
update, each with its group's optimiser (``train.groups.gen.*`` / ``train.groups.disc.*`` over
``train.*``); the trainer's EMA of the parameters is what evaluation samples from. Every loss is
a pure function of ``(params, batch, key, step)``, so the lazy R1 penalty's schedule is part of
the compiled program.

**GAN**: ``x = G(z)``, ``z ~ N(0, I_latent)``, against ``D(x)``.

**DDGAN** (Xiao, Kreis & Vahdat 2022): a VP process discretised into ``T`` steps
(``genjax.diffusion.vp_betas``: ``alpha_bar_k`` at ``t_k = k / T``, the data at ``k = 0``).
Training draws ``k ~ U{0..T-1}`` and a pair ``(x_k, x_{k+1})`` from the forward process; the
generator predicts the clean point ``x0_hat = G(x_{k+1}, t, z)`` and a fake ``x_k`` is drawn
from the DDPM posterior ``q(x_k | x_{k+1}, x0_hat)`` (``genjax.diffusion.posterior``, the same
closed form the diffusion family samples with); the discriminator ``D(x_k, t, x_{k+1})`` tells
real from fake pairs. Because the posterior is Gaussian only given ``x0``, the implied reverse
step ``p(x_k | x_{k+1})`` is a mixture: multimodal, as the true reverse step of a few large
steps is, where a diffusion model's Gaussian step is not. Sampling runs the ``T`` steps from
``x_T ~ N(0, I)``; the last (``k = 0``) returns ``x0_hat`` itself (the posterior's variance is
0 there). Both networks see the step as the time ``t_{k+1}`` of their input ``x_{k+1}``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.data import Modes
from genjax.diffusion import VPSDE, Affine, DiscreteSchedule, posterior
from genjax.gan.losses import disc_loss_terms, gen_loss_terms, logits_and_lazy_r1
from genjax.metrics import mode_coverage
from genjax.model import ModelBase, Update
from genjax.ode.spec import SamplerKind, SamplerSpec, SamplerTable

_TRUNCATION = {"truncation": float}
GAN_SAMPLERS = SamplerTable({
    "generator": SamplerKind(steps="none", options=_TRUNCATION,
                             doc="one generator pass; truncation scales the latent (default 1)"),
})
DDGAN_SAMPLERS = SamplerTable({
    "posterior": SamplerKind(steps="none", options=_TRUNCATION,
                             doc="the model's T steps: x0 from the generator, x_t from q(x_t | x_t+1, x0)"),
})


def _bcast(v: jax.Array, x: jax.Array) -> jax.Array:
    v = jnp.asarray(v)
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


class Adversarial(ModelBase):
    """What the GAN and DDGAN share: the two groups and their update plan, the losses with lazy
    R1, the latent, the data transform, sampling options and the mode metrics.

    Args:
      generator: Linen module (see the subclasses for its call).
      discriminator: Linen module ``(x, t | None, cond | None) -> logits [batch]``.
      event_shape: shape of one example.
      latent_dim: size of the latent ``z``.
      loss: "non_saturating" or "hinge" (``genjax.gan.losses``).
      r1_gamma: weight of the R1 penalty on real data (0: none).
      r1_every: the penalty is applied at steps ``step % r1_every == 0``, times ``r1_every``.
      n_critic: discriminator updates per generator update.
      transform: data -> model space (dequantized data to [-1, 1)).
      modes: the mixture components of the data, for ``extra_metrics`` (or None).
      default_sampler: the spec "default" stands for.
    """

    log_prob_kind = None

    def __init__(self, generator: nn.Module, discriminator: nn.Module, event_shape: tuple[int, ...], *,
                 latent_dim: int, loss: str = "non_saturating", r1_gamma: float = 0.0, r1_every: int = 1,
                 n_critic: int = 1, transform: Affine = Affine(), modes: Modes | None = None,
                 default_sampler: str = "default"):
        self.generator = generator
        self.discriminator = discriminator
        self.event_shape = tuple(event_shape)
        self.latent_dim = latent_dim
        self.adversarial_loss = loss
        self.r1_gamma = float(r1_gamma)
        self.r1_every = int(r1_every)
        self.transform = transform
        self.modes = modes
        self.update_plan = (Update("disc", "disc_loss", repeats=n_critic), Update("gen", "gen_loss"))
        self.default_spec = self.samplers.parse(default_sampler)  # fails early on a bad spec
        self._jitted: dict[int, Any] = {}
        disc_loss_terms(loss, jnp.zeros(1), jnp.zeros(1))  # fail early on an unknown loss

    # -- pieces the subclasses define ---------------------------------------------------------

    def fake_and_real(self, params, x0: jax.Array, key: jax.Array):
        """``(fake [batch, *event], real [batch, *event], logits_fn)``: what the discriminator
        compares, and ``logits_fn(x) -> [batch]``, its logits with the conditioning of this draw
        (DDGAN: the step and ``x_{t+1}`` that real and fake share), which R1 differentiates."""
        raise NotImplementedError

    # -- the losses of the update plan --------------------------------------------------------

    def latent(self, key: jax.Array, num: int, truncation: float = 1.0) -> jax.Array:
        return truncation * jax.random.normal(key, (num, self.latent_dim))

    def disc_loss(self, params, batch: dict, key: jax.Array, step: jax.Array):
        """The discriminator's loss (mean over the batch) plus the lazy R1 penalty at ``step``."""
        x0 = self.transform.forward(batch["x"])
        fake, real, logits_fn = self.fake_and_real(params, x0, key)
        real_logits, penalty, r1 = logits_and_lazy_r1(logits_fn, real, step, self.r1_gamma, self.r1_every)
        fake_logits = logits_fn(jax.lax.stop_gradient(fake))
        real_term, fake_term = disc_loss_terms(self.adversarial_loss, real_logits, fake_logits)
        adv = jnp.mean(real_term + fake_term)
        return adv + penalty, {"adv": adv, "r1": r1, "logit_real": jnp.mean(real_logits),
                               "logit_fake": jnp.mean(fake_logits)}

    def gen_loss(self, params, batch: dict, key: jax.Array, step: jax.Array):
        """The generator's loss (mean over the batch)."""
        x0 = self.transform.forward(batch["x"])
        fake, _, logits_fn = self.fake_and_real(params, x0, key)
        logits = logits_fn(fake)
        return jnp.mean(gen_loss_terms(self.adversarial_loss, logits)), {"logit_fake": jnp.mean(logits)}

    def loss(self, params, batch: dict, key: jax.Array):
        """Both players' losses summed, at a step without R1 when it is lazy (for monitoring; the
        trainer follows ``update_plan``)."""
        k_d, k_g = jax.random.split(key)
        d, dm = self.disc_loss(params, batch, k_d, jnp.asarray(1))
        g, gm = self.gen_loss(params, batch, k_g, jnp.asarray(1))
        return d + g, {**{f"disc/{k}": v for k, v in dm.items()}, **{f"gen/{k}": v for k, v in gm.items()}}

    def parse_sampler(self, sampler) -> SamplerSpec:
        spec = self.samplers.parse(sampler)
        return self.default_spec if spec.is_default else spec

    # -- evaluation ---------------------------------------------------------------------------

    def extra_metrics(self, params, key: jax.Array, batch: dict) -> dict:
        """Mode coverage (``genjax.metrics.mode_coverage``) of as many samples as ``batch`` holds,
        for data that are a mixture of Gaussians; else nothing."""
        if self.modes is None:
            return {}
        num = batch["x"].shape[0]
        if num not in self._jitted:
            self._jitted[num] = jax.jit(functools.partial(self.sample_with_stats, num=num))
        x, _ = self._jitted[num](params, key)
        return mode_coverage(jnp.reshape(x, (num, -1)), self.modes.centers, self.modes.std)


class GAN(Adversarial):
    """A GAN: ``G(z) -> x`` (``generator(z)``) against ``D(x)`` (``discriminator(x)``)."""

    samplers = GAN_SAMPLERS

    def init(self, key: jax.Array, batch: dict) -> dict:
        k_g, k_d = jax.random.split(key)
        x = self.transform.forward(batch["x"])
        return {"gen": self.generator.init(k_g, self.latent(k_g, x.shape[0])), "disc": self.discriminator.init(k_d, x)}

    def fake_and_real(self, params, x0, key):
        fake = self.generator.apply(params["gen"], self.latent(key, x0.shape[0]))
        return fake, x0, lambda x: self.discriminator.apply(params["disc"], x)

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None):
        """``(x [num, *event], {"nfe": 1})`` in data space."""
        spec = self.parse_sampler(sampler)
        z = self.latent(key, num, spec.get("truncation", 1.0))
        return self.transform.inverse(self.generator.apply(params["gen"], z)), {"nfe": jnp.asarray(1)}


class DDGAN(Adversarial):
    """A denoising diffusion GAN of ``num_steps`` steps (see the module docstring).

    Args:
      generator: ``(z [batch, latent], x_next [batch, *event], t [batch]) -> x0_hat``.
      discriminator: ``(x_k, t [batch], cond=x_next) -> logits [batch]``.
      num_steps: ``T``.
      betas: ``[T]`` of the forward process (``genjax.diffusion.vp_betas(T, ...)``).
      Other arguments: as ``Adversarial``.
    """

    samplers = DDGAN_SAMPLERS

    def __init__(self, generator, discriminator, event_shape, *, betas, **kw):
        super().__init__(generator, discriminator, event_shape, **kw)
        self.num_steps = len(betas)
        self.sde = VPSDE(DiscreteSchedule(betas))

    def time(self, k: jax.Array) -> jax.Array:
        """``t_k = k / T``, the time of step ``k`` (``k = 0``: the data)."""
        return jnp.asarray(k, jnp.result_type(float)) / self.num_steps

    def init(self, key: jax.Array, batch: dict) -> dict:
        k_g, k_d = jax.random.split(key)
        x = self.transform.forward(batch["x"])
        t = jnp.ones(x.shape[:1], x.dtype)
        return {"gen": self.generator.init(k_g, self.latent(k_g, x.shape[0]), x, t),
                "disc": self.discriminator.init(k_d, x, t, cond=x)}

    # -- the process --------------------------------------------------------------------------

    def forward_pair(self, key: jax.Array, x0: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(x_k, x_{k+1})`` from the forward process: ``x_k ~ q(x_k | x0)``, then one transition."""
        k1, k2 = jax.random.split(key)
        s, t = self.time(k), self.time(k + 1)
        x_k = self.sde.perturb(x0, s, jax.random.normal(k1, x0.shape, x0.dtype))
        m, v = self.sde.transition(s, t)
        return x_k, _bcast(m, x0) * x_k + _bcast(jnp.sqrt(v), x0) * jax.random.normal(k2, x0.shape, x0.dtype)

    def posterior(self, x0: jax.Array, x_next: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean ``[batch, *event]`` and variance (shape of ``k``) of ``q(x_k | x_{k+1}, x0)``."""
        return posterior(self.sde, x0, x_next, self.time(k), self.time(k + 1))

    def posterior_sample(self, key: jax.Array, x0: jax.Array, x_next: jax.Array, k: jax.Array) -> jax.Array:
        mean, var = self.posterior(x0, x_next, k)
        return mean + _bcast(jnp.sqrt(var), mean) * jax.random.normal(key, mean.shape, mean.dtype)

    def predict_x0(self, params, x_next: jax.Array, k: jax.Array, z: jax.Array) -> jax.Array:
        t = jnp.broadcast_to(self.time(k + 1), x_next.shape[:1])
        return self.generator.apply(params["gen"], z, x_next, t)

    def reverse_chain(self, predict_x0, key: jax.Array, x_T: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(x_0, path [T, batch, *event])`` of ``T`` posterior steps from ``x_T``; ``path[i]`` is
        ``x_{T-1-i}``, ``predict_x0(x_next, k, key) -> x0_hat`` at step ``k`` (``T-1`` down to 0)."""

        def body(x, inp):
            k, kk = inp
            k_pred, k_noise = jax.random.split(kk)
            x_prev = self.posterior_sample(k_noise, predict_x0(x, k, k_pred), x, k)
            return x_prev, x_prev

        steps = jnp.arange(self.num_steps - 1, -1, -1)
        return jax.lax.scan(body, x_T, (steps, jax.random.split(key, self.num_steps)))

    # -- the adversarial game -----------------------------------------------------------------

    def fake_and_real(self, params, x0, key):
        k_step, k_pair, k_z, k_post = jax.random.split(key, 4)
        k = jax.random.randint(k_step, x0.shape[:1], 0, self.num_steps)
        x_k, x_next = self.forward_pair(k_pair, x0, k)
        x0_hat = self.predict_x0(params, x_next, k, self.latent(k_z, x0.shape[0]))
        fake = self.posterior_sample(k_post, x0_hat, x_next, k)
        t = self.time(k + 1)
        return fake, x_k, lambda x: self.discriminator.apply(params["disc"], x, t, cond=x_next)

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None):
        """``(x [num, *event], {"nfe": T})`` in data space: ``T`` generator calls from ``x_T ~ N(0, I)``."""
        spec = self.parse_sampler(sampler)
        truncation = spec.get("truncation", 1.0)
        k_prior, k_chain = jax.random.split(key)
        x_T = self.sde.prior_sample(k_prior, (num, *self.event_shape))

        def predict(x_next, k, kk):
            return self.predict_x0(params, x_next, jnp.full((num,), k), self.latent(kk, num, truncation))

        x0, _ = self.reverse_chain(predict, k_chain, x_T)
        return self.transform.inverse(x0), {"nfe": jnp.asarray(self.num_steps)}

    @property
    def num_dims(self) -> int:
        return math.prod(self.event_shape)
