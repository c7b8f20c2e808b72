"""Config -> bridge models (used by the registry): ``bridge_matching``, ``sbcfm``, ``dsbm``.

``model.*`` keys of all three (defaults in brackets):

- sigma [1.0]: the reference ``dX = sigma dW`` (> 0 for sbcfm and dsbm; 0 is allowed for
  bridge_matching, where it gives rectified flow's straight paths).
- steps [20]: Euler-Maruyama steps of the default sampler and of DSBM's simulations.
- t_eps [1e-3]: the forward drift is fitted on times in ``[0, 1 - t_eps]``, the backward one
  on ``[t_eps, 1]`` (up to ``1 / steps`` loses nothing the default sampler evaluates).
- net ["time_mlp"]: "time_mlp" (``genjax.nn.TimeMLP``: hidden [(256, 256, 256)], time_dim [64],
  activation ["silu"]) or "concat_mlp" (flow matching's MLP on ``[x, t]``: hidden [(64, 64, 64)],
  activation ["selu"]); one net per direction.
- source ["gaussian"]: "gaussian" (``N(source_mean * 1, source_std^2 I)``, source_mean [0.0],
  source_std [1.0]) or a dataset name, with ``source_options`` (that dataset's options, e.g.
  ``{"classes": (1,)}`` for one digit class).
- ode.*: the default solve of the probability-flow ODE samplers (tsit5 at rtol = atol = 1e-5).
- metric_draws [3]: generated sets the evaluation's backward W2 is averaged over.

``bridge_matching`` adds coupling ["sinkhorn"]: "sinkhorn" (entropic OT at ``epsilon = 2
sigma^2``, the Schrödinger coupling; sinkhorn_iters [200]), "independent", "exact_ot" or "pairs"
(``pairs``: an ``.npz`` of ``x0``, ``x1`` from ``genjax.flow_matching.save_pairs``). ``sbcfm`` is
bridge matching on the Schrödinger coupling, always (it has no coupling key).

``dsbm`` adds method ["imf"]: "imf" (iteration 0 on ``coupling`` ["independent"]: any of
bridge_matching's) or "ipf" (iteration 0 on the reference process; no coupling key);
inner_steps [2000] (training steps per outer iteration), schedule ["alternate"]: "alternate" or
"bidirectional", first ["backward"]: the direction an alternating run trains first, and
average_decay [0.0]: each iteration ends on an exponential moving average of its steps with this
decay, restarted every iteration (0: on its last step).
"""

from __future__ import annotations


from genjax import data as gdata
from genjax.bridge.couplings import ReferenceCoupling, schrodinger_coupling
from genjax.bridge.endpoints import DatasetEndpoint, GaussianEndpoint
from genjax.bridge.matching import DIRECTIONS
from genjax.bridge.model import SCHEDULES, DSBM, BridgeMatching
from genjax.config import EVEN_INT, NONNEG_FLOAT, POS_FLOAT, POS_INT, UNIT_INTERVAL, WIDTHS, SectionReader, one_of, read_ode
from genjax.errors import ConfigError, DataError
from genjax.flow_matching import ConcatMLP, ExactOTCoupling, independent_coupling
from genjax.flow_matching.builders import pairs_coupling
from genjax.nn import TimeMLP
from genjax.ode import ODESolverConfig

DEFAULT_ODE = ODESolverConfig("tsit5", rtol=1e-5, atol=1e-5)
NETS = ("time_mlp", "concat_mlp")
COUPLINGS = ("sinkhorn", "independent", "exact_ot", "pairs")
METHODS = ("imf", "ipf")
SMALL_T_EPS = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1, "a float in (0, 1)")


def _net(r: SectionReader):
    kind = r.get("net", "time_mlp", *one_of(NETS))
    if kind == "concat_mlp":
        return ConcatMLP(hidden=r.get("hidden", (64, 64, 64), *WIDTHS),
                         activation=r.get("activation", "selu", *one_of(("selu", "silu", "relu", "tanh", "gelu"))))
    return TimeMLP(hidden=r.get("hidden", (256, 256, 256), *WIDTHS), time_dim=r.get("time_dim", 64, *EVEN_INT),
                   activation=r.get("activation", "silu", *one_of(("silu", "relu", "tanh", "gelu", "softplus"))))


def _source(r: SectionReader, dataset):
    name = r.get("source", "gaussian", lambda v: isinstance(v, str), "'gaussian' or a dataset name")
    options_reader = r.section("source_options")
    options = dict(options_reader.values)
    options_reader.read.update(options)  # passed whole to the dataset, which checks them
    if name == "gaussian":
        if options:
            raise ConfigError("config key 'model.source_options' applies to a dataset source; the Gaussian "
                              "source takes model.source_mean and model.source_std")
        return GaussianEndpoint(dataset.event_shape, r.get("source_mean", 0.0), r.get("source_std", 1.0, *POS_FLOAT))
    if name not in gdata.list_datasets():
        raise ConfigError(f"config key 'model.source' = {name!r} is not allowed: expected 'gaussian' or one of "
                          f"{gdata.list_datasets()}")
    try:
        source = gdata.get_dataset(name, **options)
    except DataError as e:
        raise ConfigError(f"config key 'model.source_options': {e}") from None
    if tuple(source.event_shape) != tuple(dataset.event_shape):
        raise ConfigError(f"config key 'model.source' = {name!r} has events of shape {source.event_shape}, "
                          f"but dataset {dataset.name!r} has {dataset.event_shape}")
    if not source.in_memory:
        raise ConfigError(f"config key 'model.source' = {name!r}: a bridge draws its source inside the train step, "
                          "so it must be a dataset held in memory (toy sets, normal, digits, mnist1d)")
    return DatasetEndpoint(source)


def _coupling(r: SectionReader, dataset, sigma: float, default: str):
    kind = r.get("coupling", default, *one_of(COUPLINGS))
    if kind == "sinkhorn":
        if sigma <= 0:
            raise ConfigError("config key 'model.coupling' = 'sinkhorn' is entropic OT at epsilon = 2 sigma^2 and "
                              "needs model.sigma > 0 (sigma = 0 would be exact OT: set coupling='exact_ot')")
        return schrodinger_coupling(sigma, r.get("sinkhorn_iters", 200, *POS_INT))
    if kind == "exact_ot":
        return ExactOTCoupling()
    if kind == "pairs":
        return pairs_coupling(r, dataset)
    return independent_coupling


def _common(r: SectionReader, dataset, *, sigma_positive: bool) -> dict:
    sigma_check = POS_FLOAT if sigma_positive else NONNEG_FLOAT
    return dict(
        sigma=r.get("sigma", 1.0, *sigma_check),
        steps=r.get("steps", 20, *POS_INT),
        t_eps=r.get("t_eps", 1e-3, *SMALL_T_EPS),
        source=_source(r, dataset),
        target=DatasetEndpoint(dataset),
        ode=read_ode(r, DEFAULT_ODE),
        metric_draws=r.get("metric_draws", 3, *POS_INT),
    )


def _check_data(dataset):
    if not dataset.in_memory:
        raise ConfigError(f"config key 'data.name' = {dataset.name!r}: bridge models draw both ends inside the train "
                          "step, so the data must be held in memory (toy sets, normal, digits, mnist1d)")


def _build_matching(model_config, dataset, *, schrodinger_only: bool) -> BridgeMatching:
    _check_data(dataset)
    r = SectionReader(model_config, "model")
    net = _net(r)
    kwargs = _common(r, dataset, sigma_positive=schrodinger_only)
    if schrodinger_only:  # sbcfm has no coupling key: it is the entropic plan at 2 sigma^2, always
        coupling = schrodinger_coupling(kwargs["sigma"], r.get("sinkhorn_iters", 200, *POS_INT))
    else:
        coupling = _coupling(r, dataset, kwargs["sigma"], "sinkhorn")
    model = BridgeMatching(net, dataset.event_shape, coupling=coupling, **kwargs)
    r.finish()
    return model


def build_bridge_matching(model_config, dataset) -> BridgeMatching:
    return _build_matching(model_config, dataset, schrodinger_only=False)


def build_sbcfm(model_config, dataset) -> BridgeMatching:
    return _build_matching(model_config, dataset, schrodinger_only=True)


def build_dsbm(model_config, dataset) -> DSBM:
    _check_data(dataset)
    r = SectionReader(model_config, "model")
    net = _net(r)
    kwargs = _common(r, dataset, sigma_positive=True)
    method = r.get("method", "imf", *one_of(METHODS))
    if method == "ipf":
        if "coupling" in r.values:
            raise ConfigError("config key 'model.coupling' applies to method 'imf'; method 'ipf' starts from the "
                              "reference process")
        initial = ReferenceCoupling(kwargs["sigma"])
    else:
        initial = _coupling(r, dataset, kwargs["sigma"], "independent")
    model = DSBM(
        net,
        dataset.event_shape,
        inner_steps=r.get("inner_steps", 2000, *POS_INT),
        initial_coupling=initial,
        schedule=r.get("schedule", "alternate", *one_of(SCHEDULES)),
        first=r.get("first", "backward", *one_of(DIRECTIONS)),
        average_decay=r.get("average_decay", 0.0, *UNIT_INTERVAL),
        **kwargs,
    )
    r.finish()
    return model
