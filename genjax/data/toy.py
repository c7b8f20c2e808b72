"""Two-dimensional synthetic distributions, sampled i.i.d. in pure JAX.

The sets and their scales follow FFJORD's ``lib/toy_data.py`` (Grathwohl et al., 2019), which
most 2-D flow, diffusion and flow-matching papers reuse. FFJORD draws some of them with fixed
counts per component and evenly spaced positions along the curves (``make_moons``,
``make_circles``, ``np.linspace``); those batches are not i.i.d. (two 2000-point ``make_moons``
draws are closer in W2 than two independent samples are). Here every point is independent:
its component is a categorical draw and its position along a curve is uniform. Below ``U`` is
``U[0, 1)``, ``N`` a standard normal, both fresh for every symbol and every point, and ``k`` the
label returned with the point.

- ``8gaussians``: ``k ~ U{0..7}``; ``x = (4 c_k + 0.5 N_2) / 1.414`` with ``c_k`` in the order
  ``(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)``, ``s = 1/sqrt(2)``.
- ``25gaussians`` (the 5x5 grid of the GAN literature: VEEGAN, PacGAN, DDGAN): ``k ~ U{0..24}``;
  ``x = ((2 (k // 5) - 4, 2 (k mod 5) - 4) + 0.05 N_2) / 2.828``: centres 0.707 apart, std
  0.0177, each coordinate of unit variance.
- ``checkerboard``: ``x1 = 4U - 2``; ``x2 = U - 2 U{0, 1} + (floor(x1) mod 2)``;
  ``x = 2 (x1, x2)``: uniform on the 8 dark squares (side 2) of a 4x4 board on ``[-4, 4]^2``.
  ``k = 0``.
- ``2spirals``: ``r = sqrt(U) * 3 pi``; ``d = (-r cos r + U / 2, r sin r + U / 2)``;
  ``k ~ U{0, 1}`` picks ``d`` (k=0) or ``-d`` (k=1); ``x = (+-d) / 3 + 0.1 N_2``.
- ``pinwheel``: ``k ~ U{0..4}``; ``f = (1 + 0.3 N, 0.1 N)``; ``a = 2 pi k / 5 + 0.25 exp(f_1)``;
  ``x = 2 f R(a)`` with ``R(a) = [[cos a, -sin a], [sin a, cos a]]`` multiplied on the right
  (as FFJORD's ``einsum("ti,tij->tj")``, which fixes the arms' handedness).
- ``rings``: ``k ~ U{0..3}``, radius ``(4 - k) / 4`` (1, .75, .5, .25); angle ``t = 2 pi U``;
  ``x = 3 radius (cos t, sin t) + 0.08 N_2``.
- ``circles`` (``make_circles(factor=.5, noise=.08) * 3``): ``k ~ U{0, 1}``, radius 1 (k=0) or
  0.5 (k=1); ``t = 2 pi U``; ``x = 3 (radius (cos t, sin t) + 0.08 N_2)``.
- ``moons`` (``make_moons(noise=.1) * 2 + (-1, -0.2)``): ``k ~ U{0, 1}``; ``t = pi U``; outer moon
  (k=0) ``(cos t, sin t)``, inner moon (k=1) ``(1 - cos t, 0.5 - sin t)``;
  ``x = 2 (p + 0.1 N_2) + (-1, -0.2)``.
- ``swissroll`` (``make_swiss_roll(noise=1.0)[:, [0, 2]] / 5``): ``t = 1.5 pi (1 + 2U)``;
  ``x = (t cos t + N, t sin t + N) / 5``. ``k = 0``.
- ``scurve`` (not in FFJORD; ``make_s_curve`` columns (x, z)): ``t = 3 pi (U - 0.5)``;
  ``p = (sin t, sign(t) (cos t - 1))``; ``x = 1.5 (p + 0.1 N_2)``, so it spans about
  ``[-1.5, 1.5] x [-3, 3]`` like the sets above, with ``make_moons``' noise level. ``k = 0``.

Every sampler is ``fn(key, num) -> (x float32 [num, 2], label int32 [num])``, with ``num``
static. Point ``i`` is drawn from ``fold_in(key, i)``, so the first ``m`` points of a sample do
not depend on ``num``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from genjax.data.arrays import held_out_key
from genjax.data.base import Batch, Dataset, Modes
from genjax.errors import DataError

Sampler = Callable[[jax.Array, int], tuple[jax.Array, jax.Array]]

_S = 1.0 / math.sqrt(2.0)
_EIGHT_CENTERS = ((1, 0), (-1, 0), (0, 1), (0, -1), (_S, _S), (_S, -_S), (-_S, _S), (-_S, -_S))


def _uniform(key):
    return jax.random.uniform(key, (), jnp.float32)


def _normal2(key):
    return jax.random.normal(key, (2,), jnp.float32)


def _unit_circle(t):
    return jnp.stack([jnp.cos(t), jnp.sin(t)])


# One point per function: key -> (x float32 [2], label int32 []).


def _eight_gaussians(key):
    k_label, k_noise = jax.random.split(key)
    label = jax.random.randint(k_label, (), 0, 8)
    center = 4.0 * jnp.asarray(_EIGHT_CENTERS, jnp.float32)[label]
    return (center + 0.5 * _normal2(k_noise)) / 1.414, label


def _twenty_five_gaussians(key):
    k_label, k_noise = jax.random.split(key)
    label = jax.random.randint(k_label, (), 0, 25)
    center = 2.0 * jnp.stack([label // 5, label % 5]).astype(jnp.float32) - 4.0
    return (center + 0.05 * _normal2(k_noise)) / 2.828, label


def _checkerboard(key):
    k1, k2, k3 = jax.random.split(key, 3)
    x1 = 4.0 * _uniform(k1) - 2.0
    x2 = _uniform(k2) - 2.0 * jax.random.randint(k3, (), 0, 2) + jnp.floor(x1) % 2
    return 2.0 * jnp.stack([x1, x2]), jnp.int32(0)


def _two_spirals(key):
    k_r, k_x, k_y, k_label, k_noise = jax.random.split(key, 5)
    r = jnp.sqrt(_uniform(k_r)) * 540.0 * (2.0 * jnp.pi) / 360.0
    d = jnp.stack([-jnp.cos(r) * r + 0.5 * _uniform(k_x), jnp.sin(r) * r + 0.5 * _uniform(k_y)])
    label = jax.random.randint(k_label, (), 0, 2)
    return (1 - 2 * label) * d / 3.0 + 0.1 * _normal2(k_noise), label


def _pinwheel(key):
    k_label, k_feat = jax.random.split(key)
    label = jax.random.randint(k_label, (), 0, 5)
    f = _normal2(k_feat) * jnp.array([0.3, 0.1]) + jnp.array([1.0, 0.0])
    a = 2.0 * jnp.pi * label / 5 + 0.25 * jnp.exp(f[0])
    c, s = jnp.cos(a), jnp.sin(a)
    return 2.0 * jnp.stack([f[0] * c + f[1] * s, -f[0] * s + f[1] * c]), label


def _rings(key):
    k_label, k_t, k_noise = jax.random.split(key, 3)
    label = jax.random.randint(k_label, (), 0, 4)
    radius = (4 - label) / 4.0
    return 3.0 * radius * _unit_circle(2.0 * jnp.pi * _uniform(k_t)) + 0.08 * _normal2(k_noise), label


def _circles(key):
    k_label, k_t, k_noise = jax.random.split(key, 3)
    label = jax.random.randint(k_label, (), 0, 2)
    radius = jnp.where(label == 0, 1.0, 0.5)
    p = radius * _unit_circle(2.0 * jnp.pi * _uniform(k_t))
    return 3.0 * (p + 0.08 * _normal2(k_noise)), label


def _moons(key):
    k_label, k_t, k_noise = jax.random.split(key, 3)
    label = jax.random.randint(k_label, (), 0, 2)
    arc = _unit_circle(jnp.pi * _uniform(k_t))
    p = jnp.where(label == 0, arc, jnp.array([1.0, 0.5]) - arc)
    return 2.0 * (p + 0.1 * _normal2(k_noise)) + jnp.array([-1.0, -0.2]), label


def _swissroll(key):
    k_t, k_noise = jax.random.split(key)
    t = 1.5 * jnp.pi * (1.0 + 2.0 * _uniform(k_t))
    return (t * _unit_circle(t) + _normal2(k_noise)) / 5.0, jnp.int32(0)


def _scurve(key):
    k_t, k_noise = jax.random.split(key)
    t = 3.0 * jnp.pi * (_uniform(k_t) - 0.5)
    p = jnp.stack([jnp.sin(t), jnp.sign(t) * (jnp.cos(t) - 1.0)])
    return 1.5 * (p + 0.1 * _normal2(k_noise)), jnp.int32(0)


def _batched(point: Callable) -> Sampler:
    def sample(key: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(num))
        x, label = jax.vmap(point)(keys)
        return x.astype(jnp.float32), label.astype(jnp.int32)

    sample.__name__ = point.__name__.lstrip("_")
    sample.__doc__ = "i.i.d. points ``(x [num, 2], label int32 [num])``; see ``genjax.data.toy``."
    return sample


TOY_SAMPLERS: dict[str, Sampler] = {
    "8gaussians": _batched(_eight_gaussians),
    "25gaussians": _batched(_twenty_five_gaussians),
    "checkerboard": _batched(_checkerboard),
    "2spirals": _batched(_two_spirals),
    "pinwheel": _batched(_pinwheel),
    "rings": _batched(_rings),
    "circles": _batched(_circles),
    "moons": _batched(_moons),
    "swissroll": _batched(_swissroll),
    "scurve": _batched(_scurve),
}

# Sets whose label is a mixture component, class or curve; the others return label 0.
TOY_NUM_CLASSES: dict[str, int] = {
    "8gaussians": 8,
    "25gaussians": 25,
    "pinwheel": 5,
    "rings": 4,
    "circles": 2,
    "moons": 2,
    "2spirals": 2,
}

# The mixtures of isotropic Gaussians, in label order (for mode-coverage metrics).
TOY_MODES: dict[str, Modes] = {
    "8gaussians": Modes(tuple((4.0 * a / 1.414, 4.0 * b / 1.414) for a, b in _EIGHT_CENTERS), 0.5 / 1.414),
    "25gaussians": Modes(tuple(((2.0 * i - 4.0) / 2.828, (2.0 * j - 4.0) / 2.828) for i in range(5) for j in range(5)),
                         0.05 / 2.828),
}

DEFAULT_TEST_SIZE = 2000


class ToyDataset(Dataset):
    """A 2-D synthetic distribution: an infinite population, sampled i.i.d.

    Batches are ``{"x": float32 [B, 2]}`` plus ``"label": int32 [B]`` for the labelled sets
    (``TOY_NUM_CLASSES``).
    """

    in_memory = True
    event_shape = (2,)

    def __init__(self, name: str):
        if name not in TOY_SAMPLERS:
            raise DataError(f"unknown toy dataset {name!r}; known: {', '.join(TOY_SAMPLERS)}")
        self.name = name
        self.num_classes = TOY_NUM_CLASSES.get(name)
        self.modes = TOY_MODES.get(name)
        self._sample = jax.jit(TOY_SAMPLERS[name], static_argnums=1)

    def sample(self, key: jax.Array, num: int) -> Batch:
        """``num`` fresh i.i.d. points: ``{"x": float32 [num, 2], "label": int32 [num]}``."""
        x, label = self._sample(key, num)
        return {"x": x, "label": label} if self.num_classes is not None else {"x": x}

    def train_batch(self, key: jax.Array, step, batch_size: int) -> Batch:
        """``sample(fold_in(key, step), batch_size)``; jit/vmap-able with traced key and step."""
        return self.sample(jax.random.fold_in(key, step), batch_size)

    def test_batch(self, num: int | None = None) -> Batch:
        """A fixed held-out sample of ``num`` points (default 2000) from a reserved key.

        The population is infinite, so any size is available; the first ``m`` points are the
        same whatever ``num`` is.
        """
        return self.sample(held_out_key(self.name), DEFAULT_TEST_SIZE if num is None else num)
