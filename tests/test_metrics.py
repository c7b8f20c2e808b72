"""Metrics: exact-OT W2 against closed forms, MMD behaviour, bits/dim, plot files."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.data.base import Dequantization
from genjax.errors import DataError
from genjax.metrics import (bits_per_dim, density_plot, discrete_nll, gaussian_w2, image_grid,
                            mmd, nats_to_bits, ot_pairing, scatter_plot, trajectory_plot, w2)

# Two 2-D Gaussians whose W2 (about 2.4) is large next to the finite-sample error at n = 1500.
MEAN_A, COV_A = np.array([0.0, 0.0]), np.array([[1.0, 0.3], [0.3, 0.5]])
MEAN_B, COV_B = np.array([2.0, 1.0]), np.array([[2.0, -0.4], [-0.4, 1.0]])


def _gaussian(seed, mean, cov, num):
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=num)


# --- W2 ---------------------------------------------------------------------------------------

def test_w2_of_a_set_with_itself_is_exactly_zero():
    x = np.random.default_rng(0).normal(size=(200, 3, 2))
    assert w2(x, x) == 0.0
    assert w2(x, x[::-1]) == 0.0  # the same empirical distribution in another order


def test_w2_is_symmetric():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(150, 2)), rng.normal(1.0, 2.0, size=(150, 2))
    assert w2(x, y) == pytest.approx(w2(y, x), rel=1e-12)


def test_w2_of_translated_copy_is_the_translation_norm():
    x = np.random.default_rng(2).normal(size=(300, 2))
    shift = np.array([3.0, -4.0])
    assert w2(x, x + shift) == pytest.approx(5.0, rel=1e-10)


def test_ot_pairing_undoes_a_permutation_and_matches_w2():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, 2))
    perm = rng.permutation(100)
    y = x[perm] + 1e-3  # a small shift keeps the identity pairing optimal
    pairing = ot_pairing(x, y)
    np.testing.assert_array_equal(perm[pairing], np.arange(100))
    z = rng.normal(size=(100, 2))
    cost = np.mean(np.sum((x - z[ot_pairing(x, z)]) ** 2, -1))
    assert w2(x, z) == pytest.approx(math.sqrt(cost), rel=1e-12)


def test_w2_with_unequal_sizes_is_exact():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 2))
    # Duplicating every point leaves the empirical distribution unchanged.
    assert w2(np.concatenate([x, x]), x) == pytest.approx(0.0, abs=1e-12)
    y = rng.normal(2.0, size=(40, 2))
    assert w2(x, y) == pytest.approx(w2(y, x), rel=1e-10)
    # Two point masses: all of x moves to the single point of y.
    assert w2(np.zeros((3, 1)), np.full((2, 1), 2.0)) == pytest.approx(2.0)


def test_w2_validates_inputs():
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="event shape"):
        w2(x, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        w2(x, np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="non-empty"):
        w2(np.zeros((0, 2)), x)
    with pytest.raises(DataError, match="equal size"):
        ot_pairing(x, np.zeros((9, 2)))


def test_gaussian_w2_closed_form_cases():
    # Diagonal covariances: sqrt(|m1 - m2|^2 + sum (s1 - s2)^2).
    expected = math.sqrt((1.0**2 + 2.0**2) + (1.0 - 3.0) ** 2 + (2.0 - 0.5) ** 2)
    got = gaussian_w2([0.0, 0.0], np.diag([1.0, 4.0]), [1.0, -2.0], np.diag([9.0, 0.25]))
    assert got == pytest.approx(expected, rel=1e-12)
    assert gaussian_w2(1.0, 4.0, -1.0, 1.0) == pytest.approx(math.sqrt(4.0 + 1.0), rel=1e-12)
    assert gaussian_w2(MEAN_A, COV_A, MEAN_A, COV_A) == pytest.approx(0.0, abs=1e-7)
    # A rotation of the same covariance: W2 is the Frobenius distance of the square roots,
    # here of diag(1, 2) and diag(2, 1) -> sqrt(2 * (sqrt 2 - 1)^2).
    assert gaussian_w2([0, 0], np.diag([1.0, 2.0]), [0, 0], np.diag([2.0, 1.0])) == pytest.approx(
        math.sqrt(2.0) * (math.sqrt(2.0) - 1.0), rel=1e-12)


def test_empirical_w2_approaches_the_gaussian_closed_form():
    exact = gaussian_w2(MEAN_A, COV_A, MEAN_B, COV_B)
    assert 2.0 < exact < 3.0
    empirical = w2(_gaussian(0, MEAN_A, COV_A, 1500), _gaussian(1, MEAN_B, COV_B, 1500))
    assert abs(empirical - exact) / exact < 0.05


def test_empirical_w2_bias_shrinks_with_the_sample_size():
    # Between two samples of one distribution the true W2 is 0, so the mean is all bias.
    def floor(num):
        return np.mean([w2(_gaussian(seed, MEAN_A, COV_A, num),
                           _gaussian(seed + 100, MEAN_A, COV_A, num)) for seed in range(3)])

    floors = [floor(num) for num in (50, 200, 800)]
    assert floors[0] > floors[1] > floors[2] > 0.0
    assert floors[2] < 0.5 * floors[0]


# --- MMD --------------------------------------------------------------------------------------

def test_mmd_of_identical_and_same_distribution_samples_is_near_zero():
    x = _gaussian(0, MEAN_A, COV_A, 1000)
    assert float(mmd(x, x, unbiased=False)) == pytest.approx(0.0, abs=1e-5)
    assert abs(float(mmd(x, x))) < 0.02  # the U-statistic leaves the diagonal out
    y = _gaussian(1, MEAN_A, COV_A, 1000)
    assert abs(float(mmd(x, y))) < 0.01


def test_mmd_grows_with_the_shift():
    x, noise = _gaussian(0, MEAN_A, COV_A, 500), _gaussian(1, MEAN_A, COV_A, 500)
    values = [float(mmd(x, noise + [shift, 0.0])) for shift in (0.0, 0.5, 1.0, 2.0)]
    assert values[1] > 0.05
    assert values == sorted(values)
    fixed = [float(mmd(x, noise + [shift, 0.0], bandwidths=jnp.array([0.5, 1.0])))
             for shift in (0.5, 1.0, 2.0)]
    assert fixed == sorted(fixed) and fixed[0] > 0.0


def test_mmd_biased_matches_a_direct_formula():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 2)), rng.normal(0.5, size=(20, 2))
    bandwidths = np.array([0.5, 2.0])

    def kernel(a, b):
        sq = np.sum((a[:, None] - b[None]) ** 2, -1)[..., None]
        return np.exp(-sq / (2 * bandwidths**2)).sum(-1)

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    biased = k_xx.mean() + k_yy.mean() - 2 * k_xy.mean()
    within_x = (k_xx.sum() - np.trace(k_xx)) / (30 * 29)
    within_y = (k_yy.sum() - np.trace(k_yy)) / (20 * 19)
    unbiased = within_x + within_y - 2 * k_xy.mean()
    assert float(mmd(x, y, bandwidths, unbiased=False)) == pytest.approx(biased, rel=1e-4)
    assert float(mmd(x, y, bandwidths)) == pytest.approx(unbiased, rel=1e-4)
    # Jittable with the bandwidths traced.
    jitted = jax.jit(lambda a, b, s: mmd(a, b, s))
    assert float(jitted(x, y, bandwidths)) == pytest.approx(unbiased, rel=1e-4)


# --- likelihood -------------------------------------------------------------------------------

def test_uniform_density_on_unit_cube_of_8bit_data_is_8_bits_per_dim():
    num_dims = 28 * 28
    dequantization = Dequantization(levels=256, scale=1 / 256)
    nll = np.zeros(4)  # the uniform density on [0, 1)^D is 1 everywhere
    np.testing.assert_allclose(bits_per_dim(nll, num_dims, dequantization), 8.0, rtol=1e-12)
    assert discrete_nll(0.0, num_dims, dequantization) == pytest.approx(num_dims * math.log(256))


def test_uniform_density_on_minus_one_one_of_8bit_data_is_8_bits_per_dim():
    num_dims = 3 * 8 * 8
    dequantization = Dequantization(levels=256, scale=2 / 256, shift=-1.0)
    nll = num_dims * math.log(2.0)  # density 2^-D on [-1, 1)^D
    assert bits_per_dim(nll, num_dims, dequantization) == pytest.approx(8.0, rel=1e-12)
    assert bits_per_dim(jnp.asarray(nll), num_dims, dequantization) == pytest.approx(8.0, rel=1e-6)


def test_nats_to_bits_and_continuous_bits_per_dim():
    assert nats_to_bits(math.log(2.0)) == pytest.approx(1.0, rel=1e-15)
    assert nats_to_bits(8 * math.log(2.0)) == pytest.approx(8.0, rel=1e-15)
    assert bits_per_dim(4 * math.log(2.0), 2) == pytest.approx(2.0, rel=1e-15)
    with pytest.raises(ValueError, match="num_dims"):
        bits_per_dim(1.0, 0)


# --- plots ------------------------------------------------------------------------------------

def _assert_png(path):
    assert path.exists() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_write_png_files(tmp_path):
    rng = np.random.default_rng(6)
    points = rng.normal(size=(300, 2))
    _assert_png(scatter_plot(points, tmp_path / "scatter.png", reference=points + 1.0,
                             title="samples", lim=4.0))
    _assert_png(image_grid(rng.uniform(-1, 1, size=(10, 8, 8, 1)), tmp_path / "grid" / "g.png",
                           value_range=(-1.0, 1.0)))
    _assert_png(image_grid(rng.uniform(size=(6, 8, 8, 3)), tmp_path / "rgb.png", ncols=3))
    paths = np.cumsum(rng.normal(size=(20, 50, 2)) * 0.1, axis=0)
    _assert_png(trajectory_plot(paths, tmp_path / "paths.png", reference=points))

    def log_prob(z):
        return -0.5 * jnp.sum(z**2, -1) - math.log(2 * math.pi)

    _assert_png(density_plot(log_prob, tmp_path / "density.png", lim=3.0, resolution=50))
    _assert_png(density_plot(np.zeros((20, 30)), tmp_path / "grid_density.png",
                             lim=((0, 3), (0, 2))))
    with pytest.raises(ValueError, match="2-D points"):
        scatter_plot(np.zeros((5, 3)), tmp_path / "bad.png")
