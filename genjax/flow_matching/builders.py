"""Config -> FlowMatching model (used by the registry).

``model.*`` keys (all optional; defaults in brackets):

- net ["time_mlp"]: "time_mlp" (``genjax.nn.TimeMLP``), "concat_mlp" (torchcfm's MLP on
  ``[x, t]``) or "linear" (``v = A(t) x + b(t)``); hidden, time_dim, time_scale, activation.
- path ["linear"]: "linear" (with ``sigma_min``) or "vp_cosine"; sigma [0]: Gaussian smoothing
  around the path (torchcfm's ``sigma``).
- coupling ["independent"]: "independent", "exact_ot", "sinkhorn" (``sinkhorn_epsilon``,
  ``sinkhorn_iters``, ``sinkhorn_anneal_from``: epsilon scaling from that value, 0 for none) or "pairs" (``pairs``: an ``.npz`` written by ``reflow.save_pairs``).
- source ["gaussian"]: "gaussian" (N(0, I)) or a dataset name (data-to-data transport).
- conditional [False]: class-conditional on the dataset's labels, with ``label_dropout`` [0.1]
  for classifier-free guidance, default sampling ``guidance`` [1.0] and ``eval_guidance`` [()]
  weights for the class-wise W2.
- time_sampling ["uniform"]: training times; ``ode.*``: the default ODE solve of sampling and
  of ``log_prob`` (tsit5 at rtol = atol = 1e-5; see ``genjax.config.read_ode``).
- divergence ["auto"]: trace of ``log_prob`` ("exact", "hutchinson", "auto": exact up to 256
  dimensions), probe ["rademacher"].
- path_metrics [True]: path energy / straightness / NPE in the evaluation.
"""

from __future__ import annotations

import pathlib

import numpy as np

from genjax import data as gdata
from genjax.config import EVEN_INT, FLOATS, NONNEG_FLOAT, POS_FLOAT, POS_INT, UNIT_INTERVAL, WIDTHS, SectionReader, one_of, read_ode
from genjax.errors import ConfigError
from genjax.flow_matching.couplings import (
    COUPLINGS,
    ExactOTCoupling,
    PairsCoupling,
    SinkhornCoupling,
    independent_coupling,
)
from genjax.flow_matching.model import TIME_SAMPLING, DatasetSource, FlowMatching
from genjax.flow_matching.nets import NET_ACTIVATIONS, NETS, ConcatMLP, LinearVelocity
from genjax.flow_matching.paths import PATHS, LinearPath, VPCosinePath
from genjax.nn import ACTIVATIONS as TIME_MLP_ACTIVATIONS
from genjax.nn import TimeMLP
from genjax.ode import DIVERGENCES, PROBES, ODESolverConfig

DEFAULT_ODE = ODESolverConfig("tsit5", rtol=1e-5, atol=1e-5)


def _net(r: SectionReader, num_classes: int | None):
    kind = r.get("net", "time_mlp", *one_of(NETS))
    hidden = r.get("hidden", (256, 256, 256) if kind == "time_mlp" else (64, 64, 64), *WIDTHS)
    if kind == "linear":
        return LinearVelocity(hidden=hidden, time_dim=r.get("time_dim", 16, *EVEN_INT))
    activation = r.get("activation", "silu" if kind == "time_mlp" else "selu", *one_of(sorted(NET_ACTIVATIONS)))
    if kind == "concat_mlp":
        return ConcatMLP(hidden=hidden, activation=activation, num_classes=num_classes)
    if activation not in TIME_MLP_ACTIVATIONS:
        raise ConfigError(f"config key 'model.activation' = {activation!r} is not allowed for net 'time_mlp': "
                          f"expected one of {sorted(TIME_MLP_ACTIVATIONS)}")
    return TimeMLP(
        hidden=hidden,
        time_dim=r.get("time_dim", 64, *EVEN_INT),
        time_scale=r.get("time_scale", 1000.0, *POS_FLOAT),
        activation=activation,
        num_classes=num_classes,
    )


def _coupling(r: SectionReader, dataset):
    kind = r.get("coupling", "independent", *one_of(COUPLINGS))
    if kind == "sinkhorn":
        epsilon = r.get("sinkhorn_epsilon", 0.05, POS_FLOAT[0], "a float > 0 (relative to the mean cost)")
        anneal = r.get("sinkhorn_anneal_from", 0.0,
                       lambda v: isinstance(v, (int, float)) and (v == 0 or v >= epsilon),
                       f"0 (a constant epsilon) or a float >= model.sinkhorn_epsilon = {epsilon}")
        return SinkhornCoupling(epsilon=epsilon, iters=r.get("sinkhorn_iters", 100, *POS_INT),
                                anneal_from=float(anneal) or None)
    if kind == "exact_ot":
        return ExactOTCoupling()
    if kind == "pairs":
        from genjax.flow_matching.reflow import load_pairs

        path = r.get("pairs", "", lambda v: isinstance(v, str) and v != "", "the path of a pairs .npz file")
        if not pathlib.Path(path).is_file():
            raise ConfigError(f"config key 'model.pairs' = {path!r}: no such file (write it with "
                              "genjax.flow_matching.reflow.save_pairs, or run a reflow experiment)")
        try:
            x0, x1 = load_pairs(path)
        except (OSError, KeyError, ValueError) as e:
            raise ConfigError(f"config key 'model.pairs' = {path!r} is not a pairs file with arrays x0 and x1 "
                              f"({type(e).__name__}); write it with genjax.flow_matching.reflow.save_pairs") from None
        if x0.shape != x1.shape or x0.ndim < 2:
            raise ConfigError(f"config key 'model.pairs' = {path!r}: x0 {x0.shape} and x1 {x1.shape} must have one "
                              "shape [pairs, *event]")
        if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(x1))):
            raise ConfigError(f"config key 'model.pairs' = {path!r} holds non-finite values (NaN or inf)")
        if tuple(x1.shape[1:]) != tuple(dataset.event_shape):
            raise ConfigError(f"config key 'model.pairs' = {path!r} holds pairs of shape {x1.shape[1:]}, "
                              f"but dataset {dataset.name!r} has events of shape {dataset.event_shape}")
        return PairsCoupling(x0, x1)
    return independent_coupling


def _source(r: SectionReader, dataset):
    name = r.get("source", "gaussian", lambda v: isinstance(v, str), "'gaussian' or a dataset name")
    if name == "gaussian":
        return None
    if name not in gdata.list_datasets():
        raise ConfigError(f"config key 'model.source' = {name!r} is not allowed: expected 'gaussian' or one of "
                          f"{gdata.list_datasets()}")
    source = gdata.get_dataset(name)
    if tuple(source.event_shape) != tuple(dataset.event_shape):
        raise ConfigError(f"config key 'model.source' = {name!r} has events of shape {source.event_shape}, "
                          f"but dataset {dataset.name!r} has {dataset.event_shape}")
    return DatasetSource(source)


def build_flow_matching(model_config, dataset) -> FlowMatching:
    r = SectionReader(model_config, "model")
    conditional = r.get("conditional", False)
    num_classes = None
    if conditional:
        if dataset.num_classes is None:
            raise ConfigError(f"config key 'model.conditional' = True needs labels; dataset {dataset.name!r} has none")
        num_classes = dataset.num_classes
    net = _net(r, num_classes)
    solver = read_ode(r, DEFAULT_ODE)
    path_kind = r.get("path", "linear", *one_of(PATHS))
    sigma_min = r.get("sigma_min", 0.0, *UNIT_INTERVAL)
    if path_kind == "vp_cosine" and sigma_min:
        raise ConfigError("config key 'model.sigma_min' applies to path 'linear' only; set it to 0 for 'vp_cosine'")
    path = LinearPath(sigma_min=sigma_min) if path_kind == "linear" else VPCosinePath()
    coupling = _coupling(r, dataset)
    if conditional and isinstance(coupling, PairsCoupling):
        raise ConfigError("config key 'model.coupling' = 'pairs' stores no labels; "
                          "use it with model.conditional = False")
    kwargs = {}
    if conditional:
        kwargs = dict(
            label_dropout=r.get("label_dropout", 0.1, *UNIT_INTERVAL),
            guidance=r.get("guidance", 1.0, *NONNEG_FLOAT),
            eval_guidance=r.get("eval_guidance", (), *FLOATS),
        )
    model = FlowMatching(
        net,
        dataset.event_shape,
        path=path,
        coupling=coupling,
        source=_source(r, dataset),
        time_sampling=r.get("time_sampling", "uniform", *one_of(TIME_SAMPLING)),
        solver=solver,
        sigma=r.get("sigma", 0.0, *NONNEG_FLOAT),
        num_classes=num_classes,
        path_metrics=r.get("path_metrics", True),
        divergence=r.get("divergence", "auto", *one_of((*DIVERGENCES, "auto"))),
        probe=r.get("probe", "rademacher", *one_of(PROBES)),
        **kwargs,
    )
    r.finish()
    return model

