"""Config -> flow Model (used by the registry): ``model.name`` in ``MODELS``.

Vector flows (NICE, RealNVP, Glow, MAF, IAF, NSF, residual, CIF) act on the flattened example;
for image datasets (``[H, W, C]``) RealNVP and Glow are multi-scale. Data of discrete values
(a dataset with ``dequantization``) lies in a bounded range; with ``model.preprocess = "auto"``
the flow ends (data side) with RealNVP's logit map onto that range, inside the flow, so
densities and bits/dim are those of the data as given.
"""

from __future__ import annotations

import math

from genjax.bijectors import architectures as arch
from genjax.bijectors.cif import CIF
from genjax.bijectors.model import FlowModel
from genjax.bijectors.residual import LOGDET_METHODS
from genjax.config import NONNEG_FLOAT, POS_FLOAT, POS_INT, UNIT_OPEN, WIDTHS, SectionReader, one_of
from genjax.distributions import Flow, StandardNormal
from genjax.errors import ConfigError
from genjax.nn import ACTIVATIONS

PREPROCESS = ("auto", "logit", "none")
LOG_SCALE_BOUND = (NONNEG_FLOAT[0], "a float >= 0 (0: unbounded)")


def _mlp_keys(r: SectionReader, num_layers: int, hidden: tuple[int, ...]) -> dict:
    return {
        "num_layers": r.get("num_layers", num_layers, *POS_INT),
        "hidden": r.get("hidden", hidden, *WIDTHS),
        "activation": r.get("activation", "relu", *one_of(sorted(ACTIVATIONS))),
    }


def _data_interface(r: SectionReader, dataset) -> dict:
    """``with_data_interface`` options: the logit map onto a bounded data range."""
    preprocess = r.get("preprocess", "auto", *one_of(PREPROCESS))
    alpha = r.get("logit_alpha", 0.05, lambda v: 0 < v < 0.5, "a float in (0, 0.5)")
    dq = dataset.dequantization
    if preprocess == "logit" and dq is None:
        raise ConfigError(
            f"config key 'model.preprocess' = 'logit' needs bounded (dequantized) data; dataset "
            f"{dataset.name!r} is continuous: use 'auto' or 'none'"
        )
    if preprocess == "none" or dq is None:
        return {"data_range": None}
    return {"data_range": dq.value_range, "logit_alpha": alpha}


def _is_image(dataset) -> bool:
    return len(dataset.event_shape) == 3


def _vector_core(name: str, r: SectionReader):
    """The vector bijector of ``name`` from its config keys."""
    if name == "nice":
        return arch.nice(**_mlp_keys(r, 4, (64, 64)))
    if name in ("realnvp", "glow", "maf", "iaf"):
        keys = _mlp_keys(r, 8, (64, 64))
        keys["log_scale_bound"] = r.get("log_scale_bound", 3.0, *LOG_SCALE_BOUND)
        if name == "glow":
            keys["lu"] = r.get("lu", True)
            return arch.glow(**keys)
        keys["permute"] = r.get("permute", "reverse", *one_of(arch.PERMUTATIONS))
        if name == "realnvp":
            keys["actnorm"] = r.get("actnorm", False)
            return arch.realnvp(**keys)
        return arch.maf(**keys) if name == "maf" else arch.iaf(**keys)
    if name == "nsf":
        return arch.nsf(
            **_mlp_keys(r, 8, (64, 64)),
            num_bins=r.get("num_bins", 8, *POS_INT),
            bound=r.get("bound", 4.0, *POS_FLOAT),
            permute=r.get("permute", "reverse", *one_of(arch.PERMUTATIONS)),
            autoregressive=r.get("autoregressive", False),
        )
    raise AssertionError(name)


def _image_core(name: str, r: SectionReader):
    common = {
        "levels": r.get("levels", 2, *POS_INT),
        "hidden": r.get("channels", 64, *POS_INT),
        "log_scale_bound": r.get("log_scale_bound", 3.0, *LOG_SCALE_BOUND),
    }
    if name == "glow":
        return arch.image_glow(**common, steps=r.get("steps_per_level", 4, *POS_INT), lu=r.get("lu", True))
    return arch.image_realnvp(
        **common,
        steps=r.get("steps_per_level", 2, *POS_INT),
        net=r.get("net", "resnet", *one_of(("resnet", "glow"))),
        num_blocks=r.get("num_blocks", 2, *POS_INT),
    )


def _check_image_shape(dataset, levels: int) -> None:
    h, w, _ = dataset.event_shape
    if h % 2**levels or w % 2**levels:
        raise ConfigError(
            f"config key 'model.levels' = {levels}: each level squeezes by 2, so height and width "
            f"must be divisible by 2^{levels}; dataset {dataset.name!r} has {dataset.event_shape}"
        )


def build_flow(model_config, dataset) -> FlowModel:
    """NICE, RealNVP, Glow, MAF, IAF, NSF: a ``Flow`` with an exact ``log_prob``."""
    name = model_config.name
    r = SectionReader(model_config, "model")
    event = tuple(dataset.event_shape)
    if name in ("realnvp", "glow") and _is_image(dataset):
        core, core_shape = _image_core(name, r), event
        _check_image_shape(dataset, model_config.get("levels", 2))
    else:
        core, core_shape = _vector_core(name, r), arch.flat_shape(event)
    bijector = arch.with_data_interface(core, core_shape, event, **_data_interface(r, dataset))
    r.finish()
    return FlowModel(Flow(StandardNormal(core_shape), bijector))


def build_resflow(model_config, dataset) -> FlowModel:
    """Residual flow: trained with ``train_logdet`` (default: the unbiased Russian-roulette
    estimator), evaluated with ``eval_logdet`` (default ``auto``: exact for up to 16 dimensions,
    else the power series with ``eval_terms`` terms, an estimate)."""
    r = SectionReader(model_config, "model")
    event = tuple(dataset.event_shape)
    dim = math.prod(event)
    keys = {
        "num_layers": r.get("num_layers", 8, *POS_INT),
        "hidden": r.get("hidden", (64, 64), *WIDTHS),
        "lipschitz": r.get("lipschitz", 0.9, *UNIT_OPEN),
        "power_iters": r.get("power_iters", 10, *POS_INT),
        "roulette_p": r.get("roulette_p", 0.5, *UNIT_OPEN),
        "exact_terms": r.get("exact_terms", 2, *POS_INT),
        "inverse_iters": r.get("inverse_iters", 200, *POS_INT),
        "actnorm": r.get("actnorm", True),
    }
    train_logdet = r.get("train_logdet", "roulette", *one_of(LOGDET_METHODS))
    train_terms = r.get("terms", 10, *POS_INT)
    eval_logdet = r.get("eval_logdet", "auto", *one_of(("auto", *LOGDET_METHODS)))
    eval_terms = r.get("eval_terms", 20, *POS_INT)
    if eval_logdet == "auto":
        eval_logdet = "exact" if dim <= 16 else "series"
    interface = _data_interface(r, dataset)
    r.finish()
    flat = arch.flat_shape(event)

    def flow(logdet, terms):
        core = arch.resflow(**keys, logdet=logdet, terms=terms)
        return Flow(StandardNormal(flat), arch.with_data_interface(core, flat, event, **interface))

    return FlowModel(flow(train_logdet, train_terms), eval_flow=flow(eval_logdet, eval_terms),
                     log_prob_kind="exact" if eval_logdet == "exact" else "estimate")


def build_cif(model_config, dataset) -> CIF:
    """Continuously-indexed flow: u-indexed couplings (affine or spline) + ``q(u|x)``, ``p(u|z)``."""
    r = SectionReader(model_config, "model")
    event = tuple(dataset.event_shape)
    keys = _mlp_keys(r, 8, (64, 64))
    bijector = arch.cif_bijector(
        **keys,
        transform=r.get("transform", "affine", *one_of(("affine", "spline"))),
        num_bins=r.get("num_bins", 8, *POS_INT),
        bound=r.get("bound", 4.0, *POS_FLOAT),
        log_scale_bound=r.get("log_scale_bound", 3.0, *LOG_SCALE_BOUND),
        index_hidden=r.get("index_hidden", (32, 32), *WIDTHS),
        permute=r.get("permute", "reverse", *one_of(arch.PERMUTATIONS)),
    )
    flat = arch.flat_shape(event)
    bijector = arch.with_data_interface(bijector, flat, event, **_data_interface(r, dataset))
    model = CIF(
        bijector,
        flat,
        u_dim=r.get("u_dim", 1, *POS_INT),
        posterior_hidden=r.get("posterior_hidden", (64, 64), *WIDTHS),
        prior_hidden=r.get("prior_hidden", (64, 64), *WIDTHS),
        activation=keys["activation"],
        eval_samples=r.get("eval_samples", 100, *POS_INT),
    )
    r.finish()
    return model
