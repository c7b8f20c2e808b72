"""Config -> VAE models (used by the registry): ``model.name`` = "vae" or "hvae".

Keys shared by both (defaults in brackets):

- likelihood ["logistic" for data of discrete values, else "gaussian"]: "gaussian", "bernoulli"
  (binary pixels by dynamic binarisation; needs an image dataset) or "logistic" (discretised
  onto the dataset's levels); gaussian_scale ["output"]: "output", "per_dim", "shared",
  "fixed"; gaussian_std [1.0]: the fixed (or initial) std; max_log_std [5.0]: soft-clamp bound
  of every log-scale (posterior, prior, Gaussian decoder).
- objective ["elbo"] or "iwae"; train_samples [1]: posterior draws per example (IWAE's K);
  kl_warmup_steps [0]; free_bits [0.0] (nats per latent dimension); both only with the ELBO.
- eval_samples [1000], eval_chunk [100]: K of ``log_prob`` (the IWAE bound) and draws per
  vmapped chunk; eval_ks [(10, 100)]: extra IWAE bounds in the evaluation; eval_batch [500];
  active_threshold [0.01].

"vae": latent_dim [16], hidden [(256, 256)], activation ["silu"]; posterior ["gaussian"],
"iaf", "coupling" or "spline" with flow_layers [2], flow_hidden [(64, 64)], context_dim [16],
spline_bins [8], spline_bound [3.0].

"hvae": num_groups [3], latent_dim [8] (per group; channels for images), width [64],
enc_cells [1], dec_cells [1], image_shape [the dataset's for images, else (): MLP cells; give
e.g. (8, 8, 1) to treat 64-d vectors as images], downsample [1], expand [3], kernel [5],
activation ["silu"], kl_balance [True], spectral_reg [0.0], power_init_iters [10].
"""

from __future__ import annotations

import math

from genjax.config import NONNEG_FLOAT, NONNEG_INT, POS_FLOAT, POS_INT, WIDTHS, SectionReader, one_of
from genjax.errors import ConfigError
from genjax.nn import ACTIVATIONS
from genjax.vae.hierarchical import HierarchicalNet, HierarchicalVAE
from genjax.vae.likelihoods import GAUSSIAN_SCALES, LIKELIHOODS, Bernoulli, DiscretizedLogistic, Gaussian
from genjax.vae.model import OBJECTIVES, POSTERIORS, VAE, VAENet

SHAPE = (lambda v: isinstance(v, tuple) and all(isinstance(s, int) and s >= 1 for s in v),
         "a tuple of positive ints (or () for none)")


def _likelihood(r: SectionReader, dataset):
    dq = dataset.dequantization
    kind = r.get("likelihood", "gaussian" if dq is None else "logistic", *one_of(LIKELIHOODS))
    if kind == "gaussian":
        return Gaussian(scale=r.get("gaussian_scale", "output", *one_of(GAUSSIAN_SCALES)),
                        std=r.get("gaussian_std", 1.0, *POS_FLOAT),
                        max_log_std=r.get("max_log_std", 5.0, *POS_FLOAT))
    if dq is None:
        raise ConfigError(f"config key 'model.likelihood' = {kind!r} needs data of discrete values (images, digits); "
                          f"dataset {dataset.name!r} is continuous: use 'gaussian'")
    if kind == "bernoulli":
        return Bernoulli(dq)
    return DiscretizedLogistic(dq)


def _common(r: SectionReader) -> dict:
    objective = r.get("objective", "elbo", *one_of(OBJECTIVES))
    kw = dict(
        objective=objective,
        train_samples=r.get("train_samples", 1, *POS_INT),
        kl_warmup_steps=r.get("kl_warmup_steps", 0, *NONNEG_INT),
        free_bits=r.get("free_bits", 0.0, *NONNEG_FLOAT),
        eval_samples=r.get("eval_samples", 1000, *POS_INT),
        eval_chunk=r.get("eval_chunk", 100, *POS_INT),
        eval_ks=r.get("eval_ks", (10, 100), *WIDTHS),
        eval_batch=r.get("eval_batch", 500, *POS_INT),
        active_threshold=r.get("active_threshold", 0.01, *POS_FLOAT),
    )
    if objective == "iwae":
        for key in ("kl_warmup_steps", "free_bits"):
            if kw[key]:
                raise ConfigError(f"config key 'model.{key}' = {kw[key]!r} applies to objective 'elbo' only; "
                                  "the IWAE bound has no separate KL term: set it to 0")
    return kw


def build_vae(model_config, dataset) -> VAE:
    r = SectionReader(model_config, "model")
    likelihood = _likelihood(r, dataset)
    latent_dim = r.get("latent_dim", 16, *POS_INT)
    posterior = r.get("posterior", "gaussian", *one_of(POSTERIORS))
    if posterior in ("coupling", "spline") and latent_dim < 2:
        raise ConfigError(f"config key 'model.posterior' = {posterior!r} splits the latent vector in two: "
                          f"it needs model.latent_dim >= 2 (got {latent_dim}); use 'iaf'")
    net = VAENet(
        event_shape=tuple(dataset.event_shape),
        latent_dim=latent_dim,
        likelihood=likelihood,
        hidden=r.get("hidden", (256, 256), *WIDTHS),
        activation=r.get("activation", "silu", *one_of(sorted(ACTIVATIONS))),
        max_log_std=r.get("max_log_std", 5.0, *POS_FLOAT),
        posterior_kind=posterior,
        flow_layers=r.get("flow_layers", 2, *POS_INT),
        flow_hidden=r.get("flow_hidden", (64, 64), *WIDTHS),
        context_dim=r.get("context_dim", 16, *POS_INT),
        spline_bins=r.get("spline_bins", 8, *POS_INT),
        spline_bound=r.get("spline_bound", 3.0, *POS_FLOAT),
    )
    model = VAE(net, **_common(r))
    r.finish()
    return model


def _image_shape(r: SectionReader, dataset) -> tuple[int, ...] | None:
    event = tuple(dataset.event_shape)
    default = event if len(event) == 3 else ()
    shape = r.get("image_shape", default, *SHAPE)
    if not shape:
        if len(event) == 3:
            raise ConfigError(f"config key 'model.image_shape' = () : dataset {dataset.name!r} holds images "
                              f"{event}; leave image_shape unset")
        return None
    if len(shape) != 3 or math.prod(shape) != math.prod(event):
        raise ConfigError(f"config key 'model.image_shape' = {shape!r} must be (H, W, C) with H * W * C = "
                          f"{math.prod(event)} (the size of dataset {dataset.name!r}'s examples)")
    return shape


def build_hvae(model_config, dataset) -> HierarchicalVAE:
    r = SectionReader(model_config, "model")
    likelihood = _likelihood(r, dataset)
    image_shape = _image_shape(r, dataset)
    downsample = r.get("downsample", 1, *NONNEG_INT) if image_shape is not None else 0
    if image_shape is not None and any(s % 2**downsample for s in image_shape[:2]):
        raise ConfigError(f"config key 'model.downsample' = {downsample}: image sides {image_shape[:2]} must be "
                          f"divisible by 2^{downsample}")
    net = HierarchicalNet(
        event_shape=tuple(dataset.event_shape),
        likelihood=likelihood,
        num_groups=r.get("num_groups", 3, *POS_INT),
        latent_dim=r.get("latent_dim", 8, *POS_INT),
        width=r.get("width", 64, *POS_INT),
        image_shape=image_shape,
        downsample=downsample,
        enc_cells=r.get("enc_cells", 1, *NONNEG_INT),
        dec_cells=r.get("dec_cells", 1, *NONNEG_INT),
        expand=r.get("expand", 3, *POS_INT),
        kernel=r.get("kernel", 5, lambda v: isinstance(v, int) and v >= 1 and v % 2 == 1, "an odd integer >= 1"),
        activation=r.get("activation", "silu", *one_of(sorted(ACTIVATIONS))),
        max_log_std=r.get("max_log_std", 5.0, *POS_FLOAT),
    )
    model = HierarchicalVAE(
        net,
        spectral_reg=r.get("spectral_reg", 0.0, *NONNEG_FLOAT),
        power_init_iters=r.get("power_init_iters", 10, *POS_INT),
        kl_balance=r.get("kl_balance", True),
        **_common(r),
    )
    r.finish()
    return model
