"""Normalizing flows: invertible layers, their composition, and flow models."""

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
from genjax.bijectors.coupling import MASKS, ConvConditioner, Coupling, MLPConditioner, coupling_mask
from genjax.bijectors.elementwise import (
    ActNorm,
    ConditionalAffine,
    ElementwiseAffine,
    FixedAffine,
    Sigmoid,
)
from genjax.bijectors.image import FactorOut, Squeeze, multiscale, squeeze, unsqueeze
from genjax.bijectors.linear import Conv1x1, Conv1x1LU, random_rotation
from genjax.bijectors.permutations import Permute, RandomPermutation, Reverse
from genjax.bijectors.residual import (
    ResidualBlock,
    fixed_point_inverse,
    lipswish,
    logdet_exact,
    logdet_roulette,
    logdet_series,
    spectral_norm_estimate,
)
from genjax.bijectors.transforms import Additive, Affine, RationalQuadraticSpline
from genjax.bijectors import architectures
from genjax.bijectors.builders import build_cif, build_flow, build_resflow
from genjax.bijectors.cif import CIF, GaussianMLP
from genjax.bijectors.model import FlowModel

MODELS = {
    "nice": build_flow,
    "realnvp": build_flow,
    "glow": build_flow,
    "maf": build_flow,
    "iaf": build_flow,
    "nsf": build_flow,
    "resflow": build_resflow,
    "cif": build_cif,
}
