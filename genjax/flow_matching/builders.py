"""Config -> FlowMatching model (used by the registry)."""

from __future__ import annotations

from genjax.config import SectionReader, one_of
from genjax.continuous.ode import SOLVERS, ODESolverConfig
from genjax.flow_matching.model import TIME_SAMPLING, FlowMatching
from genjax.flow_matching.paths import LinearPath
from genjax.nn import ACTIVATIONS, TimeMLP


def _widths(v):
    return isinstance(v, tuple) and len(v) > 0 and all(isinstance(w, int) and w >= 1 for w in v)


def build_flow_matching(model_config, dataset) -> FlowMatching:
    r = SectionReader(model_config, "model")
    net = TimeMLP(
        hidden=r.get("hidden", (256, 256, 256), _widths, "a tuple of positive ints"),
        time_dim=r.get("time_dim", 64, lambda v: isinstance(v, int) and v >= 2 and v % 2 == 0, "an even int >= 2"),
        time_scale=r.get("time_scale", 1000.0, lambda v: v > 0, "a float > 0"),
        activation=r.get("activation", "silu", *one_of(sorted(ACTIVATIONS))),
    )
    solver = ODESolverConfig(
        solver=r.get("solver", "tsit5", *one_of(sorted(SOLVERS))),
        steps=r.get("steps", 100, lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
        rtol=r.get("rtol", 1e-5, lambda v: v > 0, "a float > 0"),
        atol=r.get("atol", 1e-5, lambda v: v > 0, "a float > 0"),
    )
    path = LinearPath(sigma_min=r.get("sigma_min", 0.0, lambda v: 0 <= v < 1, "a float in [0, 1)"))
    time_sampling = r.get("time_sampling", "uniform", *one_of(TIME_SAMPLING))
    r.finish()
    return FlowMatching(net, dataset.event_shape, path=path, solver=solver, time_sampling=time_sampling)
