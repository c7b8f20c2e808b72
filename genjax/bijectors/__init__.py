"""Normalizing flows: invertible layers, their composition, and flow models.

Bijectors are Linen modules (``forward`` = base -> data) with paired
``forward_and_log_det`` / ``inverse_and_log_det`` over batches ``[batch, *event]``; see
``genjax.bijectors.base`` for the contract and ``genjax.bijectors.architectures`` for NICE,
RealNVP, Glow, MAF, IAF, neural spline flows, residual flows and CIF assembled from them.
``MODELS`` maps config names to Model builders (maximum-likelihood training).
"""

from genjax.bijectors import architectures
from genjax.bijectors.autoregressive import IAF, MAF
from genjax.bijectors.base import (
    CONSTANTS,
    LOGDET_RNG,
    Bijector,
    Chain,
    Identity,
    Invert,
    Repeat,
    Reshape,
    sum_except_batch,
)
from genjax.bijectors.builders import build_cif, build_flow, build_resflow
from genjax.bijectors.cif import CIF, GaussianMLP
from genjax.bijectors.coupling import MASKS, ConvConditioner, Coupling, MLPConditioner, coupling_mask
from genjax.bijectors.elementwise import ActNorm, ConditionalAffine, ElementwiseAffine, FixedAffine, Sigmoid
from genjax.bijectors.image import FactorOut, Squeeze, multiscale, squeeze, unsqueeze
from genjax.bijectors.linear import Conv1x1, Conv1x1LU, random_rotation
from genjax.bijectors.model import FLOW_SAMPLERS, FlowModel
from genjax.bijectors.permutations import Permute, RandomPermutation, Reverse
from genjax.bijectors.residual import (
    LOGDET_METHODS,
    ResidualBlock,
    fixed_point_inverse,
    lipswish,
    logdet_exact,
    logdet_roulette,
    logdet_series,
    spectral_norm_estimate,
)
from genjax.bijectors.transforms import Additive, Affine, RationalQuadraticSpline
from genjax.model import ModelEntry

_VECTOR_TINY = {"num_layers": 2, "hidden": (16, 16)}


# The flow that stands for the family in the leaderboard: the best on both 2-D and digits.
_LEADERBOARD = {"nsf": {"2d": "nsf_toy", "digits": "nsf_digits"}}


def _flow(name: str, summary: str, tiny=_VECTOR_TINY, build=build_flow) -> tuple[str, ModelEntry]:
    return name, ModelEntry(build, family="flows", summary=summary, samplers=FLOW_SAMPLERS, tiny=dict(tiny),
                            default_experiment=f"{name}_toy", leaderboard=_LEADERBOARD.get(name, {}))


MODELS = dict([
    _flow("nice", "NICE: additive couplings and a diagonal scaling"),
    _flow("realnvp", "RealNVP: affine couplings (multi-scale on images)"),
    _flow("glow", "Glow: ActNorm, invertible 1x1 (LU) mixing and affine couplings"),
    _flow("maf", "MAF: masked autoregressive flow (fast density, sequential sampling)"),
    _flow("iaf", "IAF: inverse autoregressive flow (fast sampling, sequential density)"),
    _flow("nsf", "NSF: rational-quadratic spline couplings"),
    _flow("resflow", "residual flow: Lipschitz residual blocks, power-series / roulette log-det",
                     {"num_layers": 2, "hidden": (16, 16), "terms": 2, "eval_terms": 4}, build_resflow),
    _flow("cif", "CIF: continuously-indexed flow (ELBO training, importance-weighted bound)", build=build_cif),
])

__all__ = [
    "CONSTANTS",
    "LOGDET_METHODS",
    "LOGDET_RNG",
    "MASKS",
    "MODELS",
    "IAF",
    "MAF",
    "ActNorm",
    "Additive",
    "Affine",
    "Bijector",
    "CIF",
    "Chain",
    "ConditionalAffine",
    "Conv1x1",
    "Conv1x1LU",
    "ConvConditioner",
    "Coupling",
    "ElementwiseAffine",
    "FactorOut",
    "FixedAffine",
    "FlowModel",
    "GaussianMLP",
    "Identity",
    "Invert",
    "MLPConditioner",
    "Permute",
    "RandomPermutation",
    "RationalQuadraticSpline",
    "Repeat",
    "Reshape",
    "ResidualBlock",
    "Reverse",
    "Sigmoid",
    "Squeeze",
    "architectures",
    "build_cif",
    "build_flow",
    "build_resflow",
    "coupling_mask",
    "fixed_point_inverse",
    "lipswish",
    "logdet_exact",
    "logdet_roulette",
    "logdet_series",
    "multiscale",
    "random_rotation",
    "spectral_norm_estimate",
    "squeeze",
    "sum_except_batch",
    "unsqueeze",
]
