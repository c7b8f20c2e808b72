"""Adversarial training: a GAN baseline and denoising diffusion GANs (DDGAN)."""

from genjax.gan.builders import build_ddgan, build_gan
from genjax.gan.losses import (
    ADVERSARIAL_LOSSES,
    disc_loss_terms,
    gen_loss_terms,
    logits_and_lazy_r1,
    logits_and_r1,
    r1_penalty,
)
from genjax.gan.model import DDGAN, DDGAN_SAMPLERS, GAN, GAN_SAMPLERS, Adversarial
from genjax.gan.nets import (
    ConvDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
    SNConv,
    SNDense,
    UNetGenerator,
    spectral_norm,
)

from genjax.model import ModelEntry

_TINY = {"gen_hidden": (16, 16), "disc_hidden": (16, 16), "latent_dim": 2}
MODELS = {
    "gan": ModelEntry(
        build_gan, family="gan", summary="GAN: MLP generator / discriminator, non-saturating or hinge loss, "
        "lazy R1, spectral norm", samplers=GAN_SAMPLERS, tiny={**_TINY, "r1_gamma": 0.1, "r1_every": 2},
        default_experiment="gan_25gaussians"),
    "ddgan": ModelEntry(
        build_ddgan, family="gan", summary="denoising diffusion GAN: T-step VP process, generator of x0, "
        "DDPM posterior, time-conditional discriminator", samplers=DDGAN_SAMPLERS,
        tiny={**_TINY, "num_steps": 2, "time_dim": 8}, default_experiment="ddgan_25gaussians",
        leaderboard={"2d": "ddgan_moons", "digits": "ddgan_digits"},
        # Each network's Adam at (5e-4, 0.5, 0.99), as GANs are trained, over the common Adam 1e-3;
        # the experiments' own settings otherwise (EMA 0.999, lazy R1).
        leaderboard_overrides={f"train.groups.{g}.{k}": v for g in ("gen", "disc")
                               for k, v in (("lr", 5e-4), ("b1", 0.5), ("b2", 0.99))}),
}

__all__ = [
    "ADVERSARIAL_LOSSES",
    "DDGAN",
    "DDGAN_SAMPLERS",
    "GAN",
    "GAN_SAMPLERS",
    "MODELS",
    "Adversarial",
    "ConvDiscriminator",
    "MLPDiscriminator",
    "MLPGenerator",
    "SNConv",
    "SNDense",
    "UNetGenerator",
    "build_ddgan",
    "build_gan",
    "disc_loss_terms",
    "gen_loss_terms",
    "logits_and_lazy_r1",
    "logits_and_r1",
    "r1_penalty",
    "spectral_norm",
]
