"""Flow matching: probability paths, couplings and the conditional flow matching model."""

from genjax.flow_matching.builders import build_flow_matching
from genjax.flow_matching.model import FlowMatching, independent_coupling, parse_sampler
from genjax.flow_matching.paths import AffinePath, LinearPath

MODELS = {"flow_matching": build_flow_matching}

__all__ = [
    "MODELS",
    "AffinePath",
    "FlowMatching",
    "LinearPath",
    "build_flow_matching",
    "independent_coupling",
    "parse_sampler",
]
