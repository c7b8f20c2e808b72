"""Flow matching: probability paths, couplings, conditional flow matching, rectified flow."""

from genjax.flow_matching.builders import build_flow_matching
from genjax.flow_matching.couplings import (
    ExactOTCoupling,
    PairsCoupling,
    SinkhornCoupling,
    exact_ot_partners,
    independent_coupling,
    sinkhorn_log_plan,
    squared_distances,
    transport_cost,
)
from genjax.flow_matching.gaussian import gaussian_marginal_velocity, gaussian_velocity_gain
from genjax.flow_matching.model import DatasetSource, FlowMatching
from genjax.flow_matching.nets import ConcatMLP, LinearVelocity
from genjax.flow_matching.paths import AffinePath, GeneralAffinePath, LinearPath, VPCosinePath
from genjax.flow_matching.reflow import generate_pairs, load_pairs, save_pairs

from genjax.model import ModelEntry
from genjax.ode import ODE_SAMPLERS

MODELS = {
    "flow_matching": ModelEntry(
        build_flow_matching,
        family="flow_matching",
        summary="conditional flow matching / rectified flow (paths, independent / OT / Sinkhorn couplings, reflow)",
        samplers=ODE_SAMPLERS,
        tiny={"hidden": (16, 16), "time_dim": 8, "ode": {"solver": "heun", "steps": 4}},
        default_experiment="fm_moons",
        leaderboard={"2d": "fm_moons", "digits": "fm_digits"},
    ),
}

__all__ = [
    "MODELS",
    "AffinePath",
    "ConcatMLP",
    "DatasetSource",
    "ExactOTCoupling",
    "FlowMatching",
    "GeneralAffinePath",
    "LinearPath",
    "LinearVelocity",
    "PairsCoupling",
    "SinkhornCoupling",
    "VPCosinePath",
    "build_flow_matching",
    "exact_ot_partners",
    "gaussian_marginal_velocity",
    "gaussian_velocity_gain",
    "generate_pairs",
    "independent_coupling",
    "load_pairs",
    "save_pairs",
    "sinkhorn_log_plan",
    "squared_distances",
    "transport_cost",
]
