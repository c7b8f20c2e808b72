"""Observation models ``p(x | z)`` of the decoders: Gaussian, Bernoulli and discretised logistic.

A decoder network outputs ``net_outputs`` numbers per element of ``x``; ``LikelihoodHead``
completes them to the likelihood's ``[batch, *event, 2]`` (or ``1``) parameters (adding a global
learned or fixed log-scale where the network does not output one). Each likelihood gives, from
those parameters,

- ``log_prob(x, params) -> [batch]``: summed over every dimension of ``x`` (a density of the
  continuous ``x`` the dataset gives, so bits/dim is comparable across families);
- ``sample(key, params, temperature)``: a draw at a temperature (``T = 0``: the mode; the noise
  of every decoder is scaled by ``T``);
- ``mean(params)``: ``E[x | z]``;
- ``observe(key, x)``: what the likelihood scores (dynamic binarisation for Bernoulli, else ``x``).

Scales are soft-clamped (``b tanh(s / b)``): an unbounded ``exp(log_std)`` is the most common
source of NaNs in VAE code.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.bijectors.transforms import soft_clamp  # noqa: F401  (re-exported for the VAE models)
from genjax.data import Dequantization
from genjax.vae.bounds import sum_per_example

LOG_2PI = math.log(2 * math.pi)
GAUSSIAN_SCALES = ("output", "per_dim", "shared", "fixed")
LIKELIHOODS = ("gaussian", "bernoulli", "logistic")




def _log1mexp(t: jax.Array) -> jax.Array:
    """``log(1 - exp(t))`` for ``t < 0``, accurate at both ends (Maechler 2012); ``t`` is capped
    just below 0 so the value and its gradient stay finite."""
    t = jnp.minimum(t, -1e-30)
    near = t > -math.log(2.0)
    # Each branch sees only inputs in its own range, so the other's gradient is never inf * 0.
    t_near = jnp.where(near, t, -1.0)
    t_far = jnp.where(near, -1.0, t)
    return jnp.where(near, jnp.log(-jnp.expm1(t_near)), jnp.log1p(-jnp.exp(t_far)))


@dataclasses.dataclass(frozen=True)
class Gaussian:
    """``N(x; mean, diag(std^2))``.

    Attributes:
      scale: where ``log std`` comes from: "output" (the decoder outputs it per element),
        "per_dim" (one learned value per element of ``x``), "shared" (one learned value) or
        "fixed" (``std``).
      std: the fixed std, or the initial std of a learned one.
      max_log_std: soft-clamp bound of ``log std`` around ``log(std)``.
    """

    scale: str = "output"
    std: float = 1.0
    max_log_std: float = 5.0

    discrete = False

    def __post_init__(self):
        if self.scale not in GAUSSIAN_SCALES:
            raise ValueError(f"scale must be one of {GAUSSIAN_SCALES}, got {self.scale!r}")

    @property
    def net_outputs(self) -> int:
        return 2 if self.scale == "output" else 1

    def global_shape(self, event_shape):
        return {"per_dim": tuple(event_shape), "shared": ()}.get(self.scale)

    def _split(self, params):
        return params[..., 0], math.log(self.std) + soft_clamp(params[..., 1], self.max_log_std)

    def log_prob(self, x, params):
        mean, log_std = self._split(params)
        per = -0.5 * (((x - mean) * jnp.exp(-log_std)) ** 2 + LOG_2PI) - log_std
        return sum_per_example(per)

    def sample(self, key, params, temperature: float = 1.0):
        mean, log_std = self._split(params)
        if temperature == 0:
            return mean
        return mean + temperature * jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)

    def mean(self, params):
        return params[..., 0]

    def observe(self, key, x):
        return x


@dataclasses.dataclass(frozen=True)
class Bernoulli:
    """``Bernoulli(b; sigmoid(logits))`` of binary pixels ``b``, with dynamic binarisation.

    ``x`` in the dataset's range ``[shift, shift + scale * levels)`` is read as an intensity
    ``p in [0, 1)``; ``observe`` draws ``b ~ Bernoulli(p)`` afresh with every key (a new
    binarisation every training step, as in the IWAE paper). ``log_prob`` is then a
    log-probability of the binary values, not a density of ``x``. Draws and means are mapped back
    to the data range (``b = 1`` is its top).
    """

    dequantization: Dequantization | None = None

    net_outputs = 1
    discrete = True

    def global_shape(self, event_shape):
        return None

    @property
    def _range(self):
        dq = self.dequantization
        return (0.0, 1.0) if dq is None else (dq.shift, dq.scale * dq.levels)

    def intensity(self, x):
        shift, width = self._range
        return jnp.clip((x - shift) / width, 0.0, 1.0)

    def _to_data(self, p):
        shift, width = self._range
        return shift + width * p

    def log_prob(self, b, params):
        logits = params[..., 0]
        return sum_per_example(-b * jax.nn.softplus(-logits) - (1.0 - b) * jax.nn.softplus(logits))

    def sample(self, key, params, temperature: float = 1.0):
        logits = params[..., 0]
        if temperature == 0:
            return self._to_data((logits > 0).astype(logits.dtype))
        b = jax.random.bernoulli(key, jax.nn.sigmoid(logits / temperature))
        return self._to_data(b.astype(logits.dtype))

    def mean(self, params):
        return self._to_data(jax.nn.sigmoid(params[..., 0]))

    def observe(self, key, x):
        p = self.intensity(x)
        return jax.random.bernoulli(key, p).astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class DiscretizedLogistic:
    """A logistic distribution discretised onto the dataset's ``levels`` bins (PixelCNN++ style).

    Values are ``x = shift + scale (v + u)`` with ``v in {0, ..., levels - 1}``. The probability
    of bin ``v`` is ``F(upper_v) - F(lower_v)`` of a logistic ``F`` with location ``mu`` and scale
    ``s`` (the edge bins take the tails), and the density of ``x`` is that probability spread
    uniformly over the bin, ``P(v) / scale``: so ``-log p(x) - D log(1/scale)`` is exactly
    ``-log P(v)`` and bits/dim with the dequantization convention of ``genjax.metrics`` is the
    discrete NLL itself.

    ``mu = centre + half_width * raw`` and ``log s = log(width) - 2 + soft_clamp(raw_s, max_log_scale)``
    (the range's width ``width``): the raw outputs start near the middle of the range.
    """

    dequantization: Dequantization
    max_log_scale: float = 7.0

    net_outputs = 2
    discrete = False

    def global_shape(self, event_shape):
        return None

    def _split(self, params):
        low, high = self.dequantization.value_range
        width = high - low
        mu = 0.5 * (low + high) + 0.5 * width * params[..., 0]
        log_s = math.log(width) - 2.0 + soft_clamp(params[..., 1], self.max_log_scale)
        return mu, log_s

    def bin_index(self, x):
        dq = self.dequantization
        return jnp.clip(jnp.floor((x - dq.shift) / dq.scale), 0, dq.levels - 1)

    def bin_log_prob(self, v, mu, log_s):
        """``log P(v)`` elementwise for integer-valued ``v`` (floats) and logistic ``(mu, log s)``."""
        dq = self.dequantization
        lower = dq.shift + dq.scale * v
        inv_s = jnp.exp(-log_s)
        a = (lower - mu) * inv_s
        b = (lower + dq.scale - mu) * inv_s
        bottom, top = v <= 0, v >= dq.levels - 1
        # The edge bins reach to -inf / +inf: their missing CDF terms are exactly 0 or 1.
        log_f_a = jnp.where(bottom, -jnp.inf, jax.nn.log_sigmoid(a))
        log_f_b = jnp.where(top, 0.0, jax.nn.log_sigmoid(b))
        log_g_a = jnp.where(bottom, 0.0, jax.nn.log_sigmoid(-a))  # 1 - F(a)
        log_g_b = jnp.where(top, -jnp.inf, jax.nn.log_sigmoid(-b))
        # F(b) - F(a) below the location, (1 - F(a)) - (1 - F(b)) above it: no cancellation.
        lower_side = log_f_b + _log1mexp(log_f_a - log_f_b)
        upper_side = log_g_a + _log1mexp(log_g_b - log_g_a)
        return jnp.where(a + b < 0, lower_side, upper_side)

    def log_prob(self, x, params):
        mu, log_s = self._split(params)
        per = self.bin_log_prob(self.bin_index(x), mu, log_s) - math.log(self.dequantization.scale)
        return sum_per_example(per)

    def sample(self, key, params, temperature: float = 1.0):
        dq = self.dequantization
        mu, log_s = self._split(params)
        if temperature == 0:
            return dq.shift + dq.scale * (self.bin_index(mu) + 0.5)
        k_logistic, k_uniform = jax.random.split(key)
        y = mu + temperature * jnp.exp(log_s) * jax.random.logistic(k_logistic, mu.shape, mu.dtype)
        # A draw of the density: a bin, then a uniform position inside it.
        u = jax.random.uniform(k_uniform, mu.shape, mu.dtype)
        return dq.shift + dq.scale * (self.bin_index(y) + u)

    def mean(self, params):
        dq = self.dequantization
        mu, log_s = self._split(params)
        v = jnp.arange(dq.levels, dtype=mu.dtype)
        logp = self.bin_log_prob(v, mu[..., None], log_s[..., None])
        return dq.shift + dq.scale * (jnp.sum(jnp.exp(logp) * v, axis=-1) + 0.5)

    def observe(self, key, x):
        return x


class LikelihoodHead(nn.Module):
    """``raw [batch, *event, net_outputs] -> params [batch, *event, 2 or 1]`` of ``likelihood``:
    appends the global learned (or fixed) log-scale of a Gaussian whose decoder does not output it."""

    likelihood: object
    event_shape: tuple[int, ...]

    @nn.compact
    def __call__(self, raw):
        lik = self.likelihood
        if not isinstance(lik, Gaussian) or lik.scale == "output":
            return raw
        if lik.scale == "fixed":
            raw_scale = jnp.zeros(raw.shape[:-1], raw.dtype)
        else:
            g = self.param("log_std", nn.initializers.zeros, lik.global_shape(self.event_shape))
            raw_scale = jnp.broadcast_to(g.astype(raw.dtype), raw.shape[:-1])
        return jnp.concatenate([raw, raw_scale[..., None]], axis=-1)
