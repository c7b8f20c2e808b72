"""Standard flows assembled from the layers: NICE, RealNVP, Glow, MAF, IAF, neural spline flows,
residual flows, and the u-indexed flow of CIF.

Each function returns a bijector (``forward`` = base -> data) for events of one shape. Vector
flows stack ``num_layers`` copies of one unit with ``Repeat`` (one ``nn.scan``); image flows
(RealNVP, Glow) are multi-scale. Units are listed base side first (``Chain`` order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from genjax.bijectors.autoregressive import IAF, MAF
from genjax.bijectors.base import Bijector, Chain, Identity, Repeat, Reshape
from genjax.bijectors.coupling import ConvConditioner, Coupling, MLPConditioner
from genjax.bijectors.elementwise import ActNorm, ConditionalAffine, ElementwiseAffine, FixedAffine, Sigmoid
from genjax.bijectors.image import multiscale
from genjax.bijectors.linear import Conv1x1, Conv1x1LU
from genjax.bijectors.permutations import RandomPermutation, Reverse
from genjax.bijectors.residual import ResidualBlock
from genjax.bijectors.transforms import Additive, Affine, RationalQuadraticSpline

PERMUTATIONS = ("reverse", "random", "none")


def permutation(kind: str) -> Bijector:
    if kind == "reverse":
        return Reverse()
    if kind == "random":
        return RandomPermutation()
    if kind == "none":
        return Identity()
    raise ValueError(f"unknown permutation {kind!r}; known: {PERMUTATIONS}")


def _stack(unit: Sequence[Bijector], num_layers: int) -> Bijector:
    return Repeat(Chain(tuple(unit)), num_layers)


def nice(*, num_layers: int = 4, hidden: Sequence[int] = (64, 64), activation: str = "relu") -> Bijector:
    """NICE (Dinh et al. 2015): additive couplings alternating halves, then a diagonal scaling on
    the base side (the last layer of the normalizing direction). ``num_layers`` pairs."""
    def coupling(parity):
        return Coupling(MLPConditioner(hidden, activation), Additive(), mask="half", parity=parity)

    return Chain((ElementwiseAffine(shift=False), _stack([coupling(0), coupling(1)], num_layers)))


def realnvp(*, num_layers: int = 8, hidden: Sequence[int] = (64, 64), activation: str = "relu",
            log_scale_bound: float = 3.0, permute: str = "reverse", actnorm: bool = False) -> Bijector:
    """RealNVP for vectors (Dinh et al. 2017): affine couplings on half-split masks, a fixed
    permutation between them; optional ActNorm before each coupling (data side)."""
    unit = [Coupling(MLPConditioner(hidden, activation), Affine(log_scale_bound), mask="half"), permutation(permute)]
    if actnorm:
        unit.append(ActNorm())
    return _stack(unit, num_layers)


def glow(*, num_layers: int = 8, hidden: Sequence[int] = (64, 64), activation: str = "relu",
         log_scale_bound: float = 3.0, lu: bool = True) -> Bijector:
    """Glow steps for vectors: ActNorm -> invertible linear (1x1 conv) -> affine coupling
    (normalizing order)."""
    mixing = Conv1x1LU() if lu else Conv1x1()
    unit = [Coupling(MLPConditioner(hidden, activation), Affine(log_scale_bound), mask="half"), mixing, ActNorm()]
    return _stack(unit, num_layers)


def nsf(*, num_layers: int = 8, hidden: Sequence[int] = (64, 64), activation: str = "relu", num_bins: int = 8,
        bound: float = 4.0, permute: str = "reverse", autoregressive: bool = False) -> Bijector:
    """Neural spline flow (Durkan et al. 2019): rational-quadratic spline couplings (or, with
    ``autoregressive=True``, MAF layers with spline transformers) and permutations."""
    spline = RationalQuadraticSpline(num_bins=num_bins, bound=bound)
    if autoregressive:
        layer = MAF(hidden, spline, activation)
    else:
        layer = Coupling(MLPConditioner(hidden, activation), spline, mask="half")
    return _stack([layer, permutation(permute)], num_layers)


def maf(*, num_layers: int = 8, hidden: Sequence[int] = (64, 64), activation: str = "relu",
        log_scale_bound: float = 3.0, permute: str = "reverse") -> Bijector:
    """MAF with affine transformers, a permutation between layers."""
    return _stack([MAF(hidden, Affine(log_scale_bound), activation), permutation(permute)], num_layers)


def iaf(*, num_layers: int = 8, hidden: Sequence[int] = (64, 64), activation: str = "relu",
        log_scale_bound: float = 3.0, permute: str = "reverse") -> Bijector:
    """IAF with affine transformers, a permutation between layers."""
    return _stack([IAF(hidden, Affine(log_scale_bound), activation), permutation(permute)], num_layers)


def resflow(*, num_layers: int = 8, hidden: Sequence[int] = (64, 64), lipschitz: float = 0.9,
            power_iters: int = 10, logdet: str = "exact", terms: int = 10, roulette_p: float = 0.5,
            exact_terms: int = 2, inverse_iters: int = 200, actnorm: bool = True) -> Bijector:
    """Residual flow: invertible residual blocks, each followed (data side) by ActNorm."""
    block = ResidualBlock(hidden, lipschitz, power_iters, logdet, terms, roulette_p, exact_terms, inverse_iters)
    return _stack([block, ActNorm()] if actnorm else [block], num_layers)


def cif_bijector(*, num_layers: int = 8, hidden: Sequence[int] = (64, 64), activation: str = "relu",
                 transform: str = "affine", num_bins: int = 8, bound: float = 4.0, log_scale_bound: float = 3.0,
                 index_hidden: Sequence[int] = (32, 32), permute: str = "reverse") -> Bijector:
    """The u-indexed bijection ``F(z; u)`` of a continuously-indexed flow: per layer a coupling
    whose conditioner also reads ``u`` and a u-indexed elementwise affine map (``cond = u``)."""
    tau = Affine(log_scale_bound) if transform == "affine" else RationalQuadraticSpline(num_bins, bound)
    unit = [ConditionalAffine(index_hidden, activation, log_scale_bound),
            Coupling(MLPConditioner(hidden, activation), tau, mask="half"), permutation(permute)]
    return _stack(unit, num_layers)


def image_realnvp(*, levels: int = 2, steps: int = 2, hidden: int = 64, net: str = "resnet",
                  num_blocks: int = 2, log_scale_bound: float = 3.0) -> Bijector:
    """Multi-scale RealNVP: per level ``steps`` pairs of checkerboard couplings, squeeze, ``steps``
    pairs of channel couplings, factor out half (each coupling preceded by ActNorm, the
    data-dependent stand-in for RealNVP's batch norm)."""
    def pair(mask):
        def coupling(parity):
            return Coupling(ConvConditioner(hidden, net, num_blocks), Affine(log_scale_bound), mask=mask, parity=parity)
        return Repeat(Chain((coupling(0), ActNorm(), coupling(1), ActNorm())), steps)

    return multiscale([(pair("checkerboard"), pair("channel")) for _ in range(levels)])


def image_glow(*, levels: int = 2, steps: int = 4, hidden: int = 64, log_scale_bound: float = 3.0,
               lu: bool = True) -> Bijector:
    """Multi-scale Glow: per level squeeze, ``steps`` Glow steps (ActNorm -> 1x1 conv -> affine
    coupling with Glow's zero-initialised conv net, normalizing order), factor out half."""
    def steps_at_level():
        mixing = Conv1x1LU() if lu else Conv1x1()
        coupling = Coupling(ConvConditioner(hidden, "glow"), Affine(log_scale_bound), mask="channel")
        return Repeat(Chain((coupling, mixing, ActNorm())), steps)

    return multiscale([(None, steps_at_level()) for _ in range(levels)])


def with_data_interface(core: Bijector, core_shape: tuple[int, ...], event_shape: tuple[int, ...], *,
                        data_range: tuple[float, float] | None = None, logit_alpha: float = 0.05) -> Bijector:
    """``core`` (on ``core_shape``) followed, data side, by a reshape to ``event_shape`` and, for
    data bounded to ``data_range = (low, high)``, the map from the real line onto it
    (``Sigmoid(alpha)`` then a fixed affine): RealNVP's logit preprocessing, inside the flow so
    densities are of the data as given."""
    layers = [core]
    if tuple(core_shape) != tuple(event_shape):
        layers.append(Reshape(tuple(core_shape), tuple(event_shape)))
    if data_range is not None:
        low, high = data_range
        layers += [Sigmoid(logit_alpha), FixedAffine(scale=high - low, shift=low)]
    return layers[0] if len(layers) == 1 else Chain(tuple(layers))


def flat_shape(event_shape: tuple[int, ...]) -> tuple[int]:
    return (math.prod(event_shape),)
