"""Variational autoencoders: the Gaussian VAE, importance-weighted bounds, flow posteriors and an
NVAE-style hierarchical VAE.

``MODELS`` maps config names to Model builders: ``vae`` (one latent group; Gaussian or flow
posterior; ELBO or IWAE training) and ``hvae`` (``L`` groups, residual posterior, shared
top-down path). ``log_prob`` of both is the importance-weighted lower bound on ``log p(x)``.
"""

from genjax.model import ModelEntry
from genjax.vae import linear_gaussian
from genjax.vae.bounds import (
    active_units,
    free_bits_kl,
    gaussian_kl,
    gaussian_kl_residual,
    importance_weighted_bound,
    kl_balance_coefficients,
    kl_weight,
)
from genjax.vae.builders import build_hvae, build_vae
from genjax.vae.hierarchical import HierarchicalNet, HierarchicalVAE
from genjax.vae.likelihoods import Bernoulli, DiscretizedLogistic, Gaussian, LikelihoodHead
from genjax.vae.model import VAE, VAE_SAMPLERS, ElboParts, LatentVariableModel, VAENet
from genjax.vae.nets import DecoderCell, EncoderCell, MLPCell, SqueezeExcite
from genjax.vae.spectral import init_power_vectors, power_iterate, spectral_norms, spectral_penalty

_EVAL_TINY = {"eval_samples": 4, "eval_chunk": 2, "eval_ks": (2,)}

MODELS = {
    "vae": ModelEntry(
        build_vae,
        family="vae",
        summary="VAE: Gaussian / Bernoulli / discretised-logistic decoder, Gaussian or flow posterior, ELBO or IWAE",
        samplers=VAE_SAMPLERS,
        tiny={"latent_dim": 2, "hidden": (16,), **_EVAL_TINY},
        default_experiment="vae_toy",
        # The plain VAE stands for the family: its log_prob is the IWAE bound (K = 1000), a bound.
        leaderboard={"2d": "vae_toy", "digits": "vae_digits"},
    ),
    "hvae": ModelEntry(
        build_hvae,
        family="vae",
        summary="hierarchical VAE (NVAE-style): L groups, residual posterior, SE cells, spectral regularisation",
        samplers=VAE_SAMPLERS,
        tiny={"num_groups": 2, "latent_dim": 2, "width": 8, "spectral_reg": 0.01, **_EVAL_TINY},
        default_experiment="hvae_digits",
    ),
}

__all__ = [
    "MODELS",
    "VAE",
    "VAE_SAMPLERS",
    "Bernoulli",
    "DecoderCell",
    "DiscretizedLogistic",
    "ElboParts",
    "EncoderCell",
    "Gaussian",
    "HierarchicalNet",
    "HierarchicalVAE",
    "LatentVariableModel",
    "LikelihoodHead",
    "MLPCell",
    "SqueezeExcite",
    "VAENet",
    "active_units",
    "build_hvae",
    "build_vae",
    "free_bits_kl",
    "gaussian_kl",
    "gaussian_kl_residual",
    "importance_weighted_bound",
    "init_power_vectors",
    "kl_balance_coefficients",
    "kl_weight",
    "linear_gaussian",
    "power_iterate",
    "spectral_norms",
    "spectral_penalty",
]
