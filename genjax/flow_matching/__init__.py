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
from genjax.flow_matching.model import DatasetSource, FlowMatching, parse_sampler
from genjax.flow_matching.nets import ConcatMLP, LinearVelocity
from genjax.flow_matching.paths import AffinePath, GeneralAffinePath, LinearPath, VPCosinePath
from genjax.flow_matching.reflow import generate_pairs, load_pairs, save_pairs

MODELS = {"flow_matching": build_flow_matching}

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
    "parse_sampler",
    "save_pairs",
    "sinkhorn_log_plan",
    "squared_distances",
    "transport_cost",
]
