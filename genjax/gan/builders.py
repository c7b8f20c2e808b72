"""Config -> adversarial models (used by the registry): the only place names pick objects.

``model.*`` keys shared by ``gan`` and ``ddgan`` (defaults in brackets):

- latent_dim [gan: 8, ddgan: 16]: size of ``z ~ N(0, I)``.
- loss ["non_saturating"]: or "hinge"; r1_gamma [gan: 0, ddgan: 0.05]: R1 weight (0: off);
  r1_every [1]: lazy R1 every k steps (times k); n_critic [1]: discriminator updates per
  generator update.
- gen_hidden [(256, 256, 256)], gen_activation ["relu"], disc_hidden [(256, 256, 256)],
  disc_activation ["leaky_relu"]: the MLPs; spectral_norm [False], sn_iters [5]: spectral
  normalisation of every discriminator layer.
- rescale [True for dequantized data]: train on data mapped to [-1, 1).
- sampler ["default"]: the spec ``default`` stands for (e.g. "generator:truncation=0.8").

``ddgan`` adds num_steps [4] (``T``), beta_min [0.1], beta_max [20.0], t_min [1e-3] (the VP
discretisation, ``genjax.diffusion.vp_betas``), time_dim [64], and for image data
net ["unet" for images, else "mlp"] with channels [64], channel_mult [(1, 2, 2)],
num_res_blocks [2], attention_levels [(1,)], mapping_hidden [(256, 256)] (the generator), and
disc_net ["conv" for images, else "mlp"] with disc_channels [64], disc_channel_mult
[(1, 2, 4, 4)].
"""

from __future__ import annotations

from genjax.config import EVEN_INT, NONNEG_FLOAT, POS_FLOAT, POS_INT, UNIT_INTERVAL, WIDTHS, SectionReader, one_of
from genjax.diffusion import Affine, vp_betas
from genjax.errors import ConfigError
from genjax.gan.losses import ADVERSARIAL_LOSSES
from genjax.gan.model import DDGAN, GAN
from genjax.gan.nets import ConvDiscriminator, MLPDiscriminator, MLPGenerator, UNetGenerator
from genjax.nn import ACTIVATIONS
from genjax.ode import SpecError

GEN_NETS = ("mlp", "unet")
DISC_NETS = ("mlp", "conv")
LEVELS = (lambda v: isinstance(v, tuple) and all(isinstance(i, int) and i >= 0 for i in v), "a tuple of level indices")


def _transform(r: SectionReader, dataset) -> Affine:
    dq = dataset.dequantization
    if dq is None or not r.get("rescale", True):
        return Affine()
    lo, hi = dq.shift, dq.shift + dq.scale * dq.levels
    return Affine(2.0 / (hi - lo), -1.0 - 2.0 / (hi - lo) * lo)


def _common(r: SectionReader, dataset, *, latent_dim: int, r1_gamma: float, time: bool, disc_net: str) -> dict:
    """The keyword arguments both models take, and the discriminator."""
    activations = sorted(ACTIVATIONS)
    spectral = r.get("spectral_norm", False)
    sn_iters = r.get("sn_iters", 5, *POS_INT)
    if disc_net == "mlp":
        disc = MLPDiscriminator(hidden=r.get("disc_hidden", (256, 256, 256), *WIDTHS),
                                activation=r.get("disc_activation", "leaky_relu", *one_of(activations)),
                                spectral=spectral, sn_iters=sn_iters,
                                time_dim=r.get("time_dim", 64, *EVEN_INT) if time else 64)
    else:
        disc = ConvDiscriminator(channels=r.get("disc_channels", 64, *POS_INT),
                                 channel_mult=r.get("disc_channel_mult", (1, 2, 4, 4), *WIDTHS),
                                 spectral=spectral, sn_iters=sn_iters)
    return dict(
        discriminator=disc,
        latent_dim=r.get("latent_dim", latent_dim, *POS_INT),
        loss=r.get("loss", "non_saturating", *one_of(ADVERSARIAL_LOSSES)),
        r1_gamma=r.get("r1_gamma", r1_gamma, *NONNEG_FLOAT),
        r1_every=r.get("r1_every", 1, *POS_INT),
        n_critic=r.get("n_critic", 1, *POS_INT),
        transform=_transform(r, dataset),
        modes=dataset.modes,
    )


def _sampler(r: SectionReader, cls) -> str:
    sampler = r.get("sampler", "default")
    try:
        cls.samplers.parse(sampler)
    except SpecError as e:
        raise ConfigError(f"config key 'model.sampler' = {sampler!r}: {e}") from None
    return sampler


def _mlp_generator(r: SectionReader, dataset, **kw) -> MLPGenerator:
    return MLPGenerator(dataset.event_shape, hidden=r.get("gen_hidden", (256, 256, 256), *WIDTHS),
                        activation=r.get("gen_activation", "relu", *one_of(sorted(ACTIVATIONS))), **kw)


def build_gan(model_config, dataset) -> GAN:
    r = SectionReader(model_config, "model")
    kw = _common(r, dataset, latent_dim=8, r1_gamma=0.0, time=False, disc_net="mlp")
    model = GAN(_mlp_generator(r, dataset), event_shape=dataset.event_shape, default_sampler=_sampler(r, GAN), **kw)
    r.finish()
    return model


def build_ddgan(model_config, dataset) -> DDGAN:
    r = SectionReader(model_config, "model")
    image = len(dataset.event_shape) == 3
    num_steps = r.get("num_steps", 4, *POS_INT)
    beta_min = r.get("beta_min", 0.1, *POS_FLOAT)
    beta_max = r.get("beta_max", 20.0, lambda v: POS_FLOAT[0](v) and v > beta_min, f"a float > beta_min = {beta_min}")
    betas = vp_betas(num_steps, beta_min, beta_max, r.get("t_min", 1e-3, *UNIT_INTERVAL))
    net = r.get("net", "unet" if image else "mlp", *one_of(GEN_NETS))
    disc_net = r.get("disc_net", "conv" if image else "mlp", *one_of(DISC_NETS))
    if (net == "unet" or disc_net == "conv") and not image:
        raise ConfigError(f"config key 'model.net' = {net!r} / 'model.disc_net' = {disc_net!r}: the UNet generator "
                          f"and the conv discriminator need image data [H, W, C]; dataset {dataset.name!r} has "
                          f"events of shape {dataset.event_shape}")
    kw = _common(r, dataset, latent_dim=16, r1_gamma=0.05, time=True, disc_net=disc_net)
    if net == "mlp":
        gen = _mlp_generator(r, dataset, time_dim=r.get("time_dim", 64, *EVEN_INT))
    else:
        gen = UNetGenerator(channels=r.get("channels", 64, *POS_INT), channel_mult=r.get("channel_mult", (1, 2, 2), *WIDTHS),
                            num_res_blocks=r.get("num_res_blocks", 2, *POS_INT),
                            attention_levels=r.get("attention_levels", (1,), *LEVELS),
                            mapping_hidden=r.get("mapping_hidden", (256, 256), *WIDTHS))
    model = DDGAN(gen, event_shape=dataset.event_shape, betas=betas, default_sampler=_sampler(r, DDGAN), **kw)
    r.finish()
    return model
