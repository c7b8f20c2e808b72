"""A hierarchical VAE in the style of NVAE (Vahdat & Kautz 2020).

``L`` latent groups ``z_1 (top) .. z_L``. A bottom-up tower of residual cells turns ``x`` into one
feature per group (the deepest feature for the top group). A top-down path, shared by the prior
and the posterior, starts from a learned constant ``h_0`` and for each group

    p(z_l | z_<l)    = N(mu_l(h), sigma_l(h)^2)                      (N(0, I) for the top group)
    q(z_l | x, z_<l) = N(mu_l + dmu_l, (sigma_l exp(dls_l))^2),   (dmu_l, dls_l) = head(h, feature_l)
    h <- cells(h + proj(z_l))

so the posterior is a residual correction of the prior (its KL,
``0.5 ((dmu / sigma)^2 + e^(2 dls) - 1) - dls``, is analytic given ``z_<l`` and vanishes when the
correction does). The decoder reads the final ``h``. Images use NVAE's cells (SE and
depthwise-separable convolutions in the decoder; one latent resolution below a strided stem,
restored by nearest-neighbour upsampling), vectors use MLP cells.

Training (``LatentVariableModel``): the ELBO, ``recon - sum_l KL_l``, with KL warm-up and NVAE's
KL balancing of the groups during warm-up, plus spectral regularisation
``lambda sum_W sigma(W)`` by persistent power iteration (``genjax.vae.spectral``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.distributions import diagonal_normal_log_prob
from genjax.nn import MLP, get_activation
from genjax.vae import spectral
from genjax.vae.bounds import gaussian_kl_residual, sum_per_example
from genjax.vae.likelihoods import LikelihoodHead, soft_clamp
from genjax.vae.model import GROUP, ElboParts, LatentVariableModel
from genjax.vae.nets import DecoderCell, EncoderCell, MLPCell, upsample

POWER = "power"  # the parameter group of the power-iteration vectors (no optimiser)


class HierarchicalNet(nn.Module):
    """Bottom-up tower and shared top-down path of ``num_groups`` latent groups.

    Attributes:
      event_shape: shape of one example.
      likelihood: the decoder's ``p(x | z)``.
      num_groups: ``L``.
      latent_dim: latent dimensions (vectors) or channels (images) of each group.
      width: hidden width (vectors) or channels (images).
      image_shape: ``(H, W, C)`` to treat the examples as images (convolutional cells), or
        ``None`` for vectors (MLP cells).
      downsample: stride-2 stages between the pixels and the latent resolution (images).
      enc_cells, dec_cells: residual cells per group in the tower and the top-down path.
      expand: channel expansion of the decoder cells.
      kernel: depthwise kernel size of the decoder cells.
      max_log_std: soft-clamp bound of the prior log-scales and of the posterior's offsets.
    """

    event_shape: tuple[int, ...]
    likelihood: Any
    num_groups: int = 3
    latent_dim: int = 8
    width: int = 64
    image_shape: tuple[int, ...] | None = None
    downsample: int = 1
    enc_cells: int = 1
    dec_cells: int = 1
    expand: int = 3
    kernel: int = 5
    se_reduction: int = 4
    activation: str = "silu"
    max_log_std: float = 5.0

    @property
    def is_image(self) -> bool:
        return self.image_shape is not None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        if not self.is_image:
            return (self.latent_dim,)
        h, w, _ = self.image_shape
        f = 2**self.downsample
        return (h // f, w // f, self.latent_dim)

    def setup(self):
        width, L, zd = self.width, self.num_groups, self.latent_dim
        zeros = nn.initializers.zeros
        if self.is_image:
            conv = lambda c, k=3, **kw: nn.Conv(c, (k, k), padding="SAME", **kw)  # noqa: E731
            enc_cell = lambda: EncoderCell(self.activation, self.se_reduction)  # noqa: E731
            dec_cell = lambda: DecoderCell(self.expand, self.kernel, self.activation, self.se_reduction)  # noqa: E731
            self.stem = conv(width)
            self.down_cells = [enc_cell() for _ in range(self.downsample)]
            self.down_convs = [conv(width, strides=(2, 2)) for _ in range(self.downsample)]
            self.prior_heads = [conv(2 * zd, kernel_init=zeros) for _ in range(L - 1)]
            self.post_heads = [conv(2 * zd) for _ in range(L)]
            self.z_proj = [conv(width, 1) for _ in range(L)]
            self.up_convs = [conv(width) for _ in range(self.downsample)]
            self.up_cells = [dec_cell() for _ in range(self.downsample)]
            self.out = conv(self.image_shape[-1] * self.likelihood.net_outputs)
            top_shape = (*self.latent_shape[:2], width)
        else:
            enc_cell = lambda: MLPCell(2, self.activation)  # noqa: E731
            dec_cell = lambda: MLPCell(2, self.activation)  # noqa: E731
            self.stem = nn.Dense(width)
            self.prior_heads = [nn.Dense(2 * zd, kernel_init=zeros) for _ in range(L - 1)]
            self.post_heads = [nn.Dense(2 * zd) for _ in range(L)]
            self.z_proj = [nn.Dense(width) for _ in range(L)]
            self.out = MLP((width,), math.prod(self.event_shape) * self.likelihood.net_outputs,
                           activation=self.activation)
            top_shape = (width,)
        self.enc = [[enc_cell() for _ in range(self.enc_cells)] for _ in range(L)]
        self.dec = [[dec_cell() for _ in range(self.dec_cells)] for _ in range(L)]
        self.h0 = self.param("h0", zeros, top_shape)
        self.head = LikelihoodHead(self.likelihood, tuple(self.event_shape))

    def _act(self, x):
        return get_activation(self.activation)(x)

    def bottom_up(self, x):
        """``x [batch, *event]`` -> one feature per group, the top group's (deepest) first."""
        b = x.shape[0]
        h = jnp.reshape(x, (b, *self.image_shape)) if self.is_image else jnp.reshape(x, (b, -1))
        h = self.stem(h)
        if self.is_image:
            for cell, down in zip(self.down_cells, self.down_convs):
                h = down(self._act(cell(h)))
        features = []
        for cells in self.enc:
            for cell in cells:
                h = cell(h)
            features.append(h)
        return tuple(reversed(features))

    def _gaussian(self, raw):
        mean, log_std = jnp.split(raw, 2, axis=-1)
        return mean, soft_clamp(log_std, self.max_log_std)

    def top_down(self, features, eps, temperature: float = 1.0):
        """The top-down pass: posterior draws when ``features`` are given, else prior draws.

        Args:
          features: ``bottom_up(x)``, or ``None`` to sample the prior.
          eps: ``L`` standard normal arrays ``[batch, *latent_shape]``, the noise of each group.
          temperature: prior draws only: ``z_l = mu_l + T sigma_l eps_l``.

        Returns:
          ``(decoder params [batch, *event, P], stats)``: ``stats["z"]`` and ``stats["prior_mean"]``
          (``L`` arrays each) and, for posterior draws, ``stats["kl"] [batch, L]`` (analytic per
          group given ``z_<l``), ``stats["log_ratio"] [batch]``
          (``sum_l log p(z_l | z_<l) - log q(z_l | x, z_<l)`` at the draw) and
          ``stats["posterior"]``, the ``(mean, log_std)`` of each group's ``q``.
        """
        b = eps[0].shape[0]
        h = jnp.broadcast_to(self.h0, (b, *self.h0.shape))
        zs, prior_means, prior_log_stds, post = [], [], [], []
        kls, log_ratio = [], jnp.zeros((b,), eps[0].dtype)
        for l in range(self.num_groups):
            if l == 0:
                mu_p = jnp.zeros_like(eps[0])
                ls_p = jnp.zeros_like(eps[0])
            else:
                mu_p, ls_p = self._gaussian(self.prior_heads[l - 1](self._act(h)))
            if features is None:
                z = mu_p + temperature * jnp.exp(ls_p) * eps[l]
            else:
                d_mu, d_ls = self._gaussian(self.post_heads[l](self._act(jnp.concatenate([h, features[l]], -1))))
                z = mu_p + d_mu + jnp.exp(ls_p + d_ls) * eps[l]
                post.append((mu_p + d_mu, ls_p + d_ls))
                kls.append(sum_per_example(gaussian_kl_residual(d_mu, d_ls, ls_p)))
                log_ratio = (log_ratio + diagonal_normal_log_prob(z, mu_p, ls_p)
                             - diagonal_normal_log_prob(z, mu_p + d_mu, ls_p + d_ls))
            zs.append(z)
            prior_means.append(mu_p)
            prior_log_stds.append(ls_p)
            h = h + self.z_proj[l](z)
            for cell in self.dec[l]:
                h = cell(h)
        if self.is_image:
            for conv, cell in zip(self.up_convs, self.up_cells):
                h = cell(conv(upsample(h)))
            h = self._act(h)
        raw = jnp.reshape(self.out(h), (b, *self.event_shape, self.likelihood.net_outputs))
        stats = {"z": zs, "prior_mean": prior_means, "prior_log_std": prior_log_stds}
        if features is not None:
            stats["kl"] = jnp.stack(kls, axis=-1)
            stats["log_ratio"] = log_ratio
            stats["posterior"] = post
        return self.head(raw), stats

    def __call__(self, x, eps):
        return self.top_down(self.bottom_up(x), eps)[0]


class HierarchicalVAE(LatentVariableModel):
    """NVAE-style hierarchical VAE (see the module docstring) as a genjax Model.

    ``params = {"vae": variables}`` and, with spectral regularisation, ``"power"``: the
    power-iteration vectors of every kernel, which no optimiser touches; ``after_update``
    advances them one iteration per step.

    Args:
      net: a ``HierarchicalNet``.
      spectral_reg: ``lambda`` of the loss term ``lambda sum_W sigma(W)`` (0: off).
      power_init_iters: power iterations from the random start at initialisation.
      **kwargs: those of ``LatentVariableModel`` (``kl_balance`` defaults to True here).
    """

    def __init__(self, net: HierarchicalNet, *, spectral_reg: float = 0.0, power_init_iters: int = 10, **kwargs):
        kwargs.setdefault("kl_balance", True)
        super().__init__(likelihood=net.likelihood, event_shape=net.event_shape, **kwargs)
        self.net = net
        self.latent_shape = net.latent_shape
        self.num_groups = net.num_groups
        self.spectral_reg = float(spectral_reg)
        self.power_init_iters = int(power_init_iters)
        size = math.prod(self.latent_shape)
        self.group_sizes = (size,) * net.num_groups
        self.free_bits_units = self.group_sizes

    # -- parameters ----------------------------------------------------------------------------

    def _noise(self, key, batch: int, dtype=jnp.float32, zero: bool = False):
        shape = (batch, *self.latent_shape)
        if zero:
            return [jnp.zeros(shape, dtype) for _ in range(self.num_groups)]
        return [jax.random.normal(jax.random.fold_in(key, l), shape, dtype) for l in range(self.num_groups)]

    def init(self, key: jax.Array, batch: dict):
        x = batch["x"]
        k_net, k_power = jax.random.split(key)
        v = self.net.init(k_net, x, self._noise(None, x.shape[0], x.dtype, zero=True))
        params = {GROUP: v}
        if self.spectral_reg > 0:
            params[POWER] = spectral.init_power_vectors(k_power, v["params"], self.power_init_iters)
        return params

    def after_update(self, params, step):
        """One power iteration of every kernel from its vector (NVAE's persistent estimate)."""
        if POWER not in params:
            return params
        weights = spectral.kernels(params[GROUP]["params"])
        return {**params, POWER: spectral.power_iterate(weights, params[POWER], 1)}

    def spectral_norms(self, params) -> Any:
        """The power-iteration estimate of every kernel's top singular value (a tree like the kernels)."""
        return spectral.spectral_norms(params[GROUP]["params"], params[POWER])

    def _regularizer(self, params):
        if self.spectral_reg <= 0:
            return jnp.zeros(()), {}
        penalty = spectral.spectral_penalty(params[GROUP]["params"], params[POWER])
        return self.spectral_reg * penalty, {"spectral_norm_sum": penalty}

    # -- passes --------------------------------------------------------------------------------

    def _top_down(self, v, features, eps, temperature: float = 1.0):
        return self.net.apply(v, features, eps, temperature, method=HierarchicalNet.top_down)

    def _context(self, v, x):
        return self.net.apply(v, x, method=HierarchicalNet.bottom_up)

    def _draw(self, v, features, x, key) -> ElboParts:
        out, stats = self._top_down(v, features, self._noise(key, x.shape[0], x.dtype))
        recon = self.likelihood.log_prob(x, out)
        return ElboParts(recon, stats["kl"], stats["kl"], recon + stats["log_ratio"])

    def _flat(self, zs):
        return [jnp.reshape(z, (z.shape[0], -1)) for z in zs]

    def _location(self, v, features):
        """The zero-noise top-down pass; the latents reported for active units are each group's
        posterior offset from its prior in prior standard deviations, ``(mu_q - mu_p) / sigma_p``
        (for the top group, whose prior is N(0, I), the posterior mean itself): a lower group's
        draw varies with ``x`` through the prior mean even when the group carries nothing."""
        b = features[0].shape[0]
        out, stats = self._top_down(v, features, self._noise(None, b, features[0].dtype, zero=True))
        offsets = [(q_mean - p_mean) * jnp.exp(-p_log_std) for (q_mean, _), p_mean, p_log_std
                   in zip(stats["posterior"], stats["prior_mean"], stats["prior_log_std"])]
        return self._flat(offsets), out

    def _draw_decoder(self, v, features, x, key):
        return self._top_down(v, features, self._noise(key, x.shape[0], x.dtype))[0]

    def _prior_decoder(self, v, key, num: int, temperature: float):
        return self._top_down(v, None, self._noise(key, num), temperature)[0]

    def posterior_draw(self, params, x: jax.Array, key: jax.Array):
        """One top-down posterior pass of (observed) ``x``: ``(decoder params, stats, noise)`` (see
        ``HierarchicalNet.top_down``; ``noise`` is the list of ``eps`` used)."""
        v = params[GROUP]
        eps = self._noise(key, x.shape[0], x.dtype)
        out, stats = self._top_down(v, self._context(v, x), eps)
        return out, stats, eps

    def sample_latents(self, params, key: jax.Array, num: int, temperature: float = 1.0):
        """Prior draws of every group and the prior means they were drawn around.

        Returns:
          ``(z, prior_mean, decoder params)``: two lists of ``L`` arrays ``[num, *latent_shape]``
          and ``[num, *event, P]``.
        """
        out, stats = self._top_down(params[GROUP], None, self._noise(key, num), temperature)
        return stats["z"], stats["prior_mean"], out
