"""Tests of genjax.data: toy distributions against FFJORD's definitions, i.i.d. sampling,
deterministic (key, step) streams, digits / MNIST-1D / tfds images, registry and validation."""

import ast
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from scipy import stats
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

import genjax.data as gd
from genjax.data import Dequantization, check_batch, get_dataset, list_datasets
from genjax.data.toy import TOY_NUM_CLASSES, TOY_SAMPLERS
from genjax.errors import DataError

KEY = jax.random.key(0)


def w2(a, b):
    """Exact W2 between two equal-size empirical measures [n, d]."""
    cost = cdist(a, b, "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


# ---------------------------------------------------------------------------------------------
# FFJORD's lib/toy_data.py, vectorized in numpy (same distributions, with its labels).


def ffjord_reference(name, n, rng):
    from sklearn import datasets

    seed = int(rng.integers(2**31))
    if name == "swissroll":
        x = datasets.make_swiss_roll(n_samples=n, noise=1.0, random_state=seed)[0][:, [0, 2]] / 5
        return x, np.zeros(n, int)
    if name == "circles":
        x, y = datasets.make_circles(n_samples=n, factor=0.5, noise=0.08, random_state=seed)
        return x * 3, y
    if name == "moons":
        x, y = datasets.make_moons(n_samples=n, noise=0.1, random_state=seed)
        return x * 2 + np.array([-1, -0.2]), y
    if name == "rings":
        m = n // 4
        counts = [m, m, m, n - 3 * m]
        pts, labels = [], []
        for k, (radius, c) in enumerate(zip([1.0, 0.75, 0.5, 0.25], counts)):
            t = np.linspace(0, 2 * np.pi, c, endpoint=False)
            pts.append(radius * np.stack([np.cos(t), np.sin(t)], 1))
            labels.append(np.full(c, k))
        x = np.concatenate(pts) * 3.0
        return x + rng.normal(scale=0.08, size=x.shape), np.concatenate(labels)
    if name == "8gaussians":
        s = 1 / np.sqrt(2)
        centers = 4.0 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)])
        idx = rng.integers(8, size=n)
        return (rng.normal(size=(n, 2)) * 0.5 + centers[idx]) / 1.414, idx
    if name == "25gaussians":  # the 5x5 grid of the GAN literature, scaled to unit variance
        grid = np.array([(i, j) for i in range(-2, 3) for j in range(-2, 3)], float) * 2.0
        idx = rng.integers(25, size=n)
        return (grid[idx] + 0.05 * rng.normal(size=(n, 2))) / 2.828, idx
    if name == "pinwheel":
        per = n // 5
        rads = np.linspace(0, 2 * np.pi, 5, endpoint=False)
        features = rng.normal(size=(5 * per, 2)) * np.array([0.3, 0.1])
        features[:, 0] += 1.0
        labels = np.repeat(np.arange(5), per)
        angles = rads[labels] + 0.25 * np.exp(features[:, 0])
        rotations = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles)])
        rotations = np.reshape(rotations.T, (-1, 2, 2))
        return 2 * np.einsum("ti,tij->tj", features, rotations), labels
    if name == "2spirals":
        h = n // 2
        r = np.sqrt(rng.random((h, 1))) * 540 * (2 * np.pi) / 360
        d1x = -np.cos(r) * r + rng.random((h, 1)) * 0.5
        d1y = np.sin(r) * r + rng.random((h, 1)) * 0.5
        x = np.vstack((np.hstack((d1x, d1y)), np.hstack((-d1x, -d1y)))) / 3
        return x + rng.normal(size=x.shape) * 0.1, np.repeat([0, 1], h)
    if name == "checkerboard":
        x1 = rng.random(n) * 4 - 2
        x2 = rng.random(n) - rng.integers(0, 2, n) * 2 + np.floor(x1) % 2
        return np.stack([x1, x2], 1) * 2, np.zeros(n, int)
    if name == "scurve":  # the documented definition (not in FFJORD)
        x, t = datasets.make_s_curve(n_samples=n, noise=0.1, random_state=seed)
        return 1.5 * x[:, [0, 2]], np.zeros(n, int)
    raise KeyError(name)


def _moments(x):
    return x.mean(0), x.std(0), np.corrcoef(x.T)[0, 1]


@pytest.mark.parametrize("name", list(TOY_SAMPLERS))
def test_toy_matches_ffjord_definition(name):
    """Mean, std and correlation, overall and per label, match the reference definitions."""
    n = 20_000
    x, label = (np.asarray(a) for a in TOY_SAMPLERS[name](jax.random.key(1), n))
    ref_x, ref_label = ffjord_reference(name, n, np.random.default_rng(1))
    assert x.shape == (n, 2) and x.dtype == np.float32 and label.dtype == np.int32
    # Per label where each label has thousands of points (25gaussians' components: below).
    groups = range(TOY_NUM_CLASSES.get(name, 1)) if TOY_NUM_CLASSES.get(name, 1) <= 8 else [None]
    for k in groups:
        if k is None:
            a, b = x, ref_x
            (ma, sa, ca), (mb, sb, cb) = _moments(a), _moments(b)
            np.testing.assert_allclose(ma, mb, atol=5 * np.sqrt(2 / n) * sb.max(), err_msg=f"{name} mean")
            np.testing.assert_allclose(sa, sb, rtol=0.03, err_msg=f"{name} std")
            continue
        a, b = x[label == k], ref_x[ref_label == k]
        assert abs(len(a) / n - len(b) / n) < 0.02, (name, k)  # component weights
        (ma, sa, ca), (mb, sb, cb) = _moments(a), _moments(b)
        tol = 5 * np.sqrt(2 / len(a))  # five standard errors of a difference of two means
        np.testing.assert_allclose(ma, mb, atol=tol * max(sb.max(), 0.2), err_msg=f"{name}[{k}] mean")
        np.testing.assert_allclose(sa, sb, rtol=0.07, err_msg=f"{name}[{k}] std")
        assert abs(ca - cb) < 0.1, (name, k, ca, cb)


def test_eight_gaussians_components():
    x, label = (np.asarray(a) for a in TOY_SAMPLERS["8gaussians"](KEY, 16_000))
    radius = 4 / 1.414
    for k in range(8):
        xk = x[label == k]
        assert np.linalg.norm(xk.mean(0)) == pytest.approx(radius, abs=0.05)
        np.testing.assert_allclose(xk.std(0), 0.5 / 1.414, rtol=0.08)
    np.testing.assert_allclose(x[label == 0].mean(0), [radius, 0.0], atol=0.05)


def test_twenty_five_gaussians_components():
    """Each of the 25 components: weight 1/25, centre and std as declared in ``modes``, within
    five standard errors."""
    n = 25_000
    dataset = get_dataset("25gaussians")
    x, label = (np.asarray(a) for a in TOY_SAMPLERS["25gaussians"](KEY, n))
    centers, std = np.asarray(dataset.modes.centers), dataset.modes.std
    np.testing.assert_allclose(np.abs(np.diff(np.unique(centers[:, 0]))), 2 / 2.828, rtol=1e-6)
    counts = np.bincount(label, minlength=25)
    assert np.all(np.abs(counts - n / 25) < 5 * np.sqrt(n * (1 / 25) * (24 / 25))), counts
    for k in range(25):
        xk = x[label == k]
        np.testing.assert_allclose(xk.mean(0), centers[k], atol=5 * std / np.sqrt(len(xk)))
        np.testing.assert_allclose(xk.std(0), std, rtol=5 / np.sqrt(2 * len(xk)))


@pytest.mark.parametrize(
    # Mean W2 over three pairs of independent 2000-point draws. Measured spreads (10 pairs):
    # i.i.d. moons 0.10-0.22 vs evenly spaced (make_moons) 0.081-0.086; circles 0.16-0.23 vs
    # 0.121-0.126; rings 0.16-0.24 vs 0.074-0.078.
    "name, stratified_max",
    [("moons", 0.09), ("circles", 0.13), ("rings", 0.08)],
)
def test_toy_draws_are_iid(name, stratified_max):
    sample = get_dataset(name).sample
    dists = [
        w2(np.asarray(sample(jax.random.key(10 + 2 * i), 2000)["x"]),
           np.asarray(sample(jax.random.key(11 + 2 * i), 2000)["x"]))
        for i in range(3)
    ]
    assert stratified_max + 0.015 < np.mean(dists) < 0.3, dists


@pytest.mark.parametrize("name", ["circles", "rings"])
def test_angle_uniform_and_not_evenly_spaced(name):
    """Both sets are rotation invariant, so the polar angle must be U(-pi, pi) and i.i.d.:
    an evenly spaced sample has a KS distance far below 1/sqrt(n)."""
    x = np.asarray(get_dataset(name).sample(jax.random.key(3), 2000)["x"])
    result = stats.kstest(np.arctan2(x[:, 1], x[:, 0]), stats.uniform(-np.pi, 2 * np.pi).cdf)
    assert result.pvalue > 1e-3
    assert result.statistic * np.sqrt(len(x)) > 0.3  # P < 1e-5 for an i.i.d. sample


def test_moons_position_along_curve():
    """The angle around each moon's centre matches that of t ~ U[0, pi] with the same noise."""
    x, label = (np.asarray(a) for a in TOY_SAMPLERS["moons"](jax.random.key(4), 4000))
    rng = np.random.default_rng(0)
    p = (x + np.array([1.0, 0.2])) / 2  # back to make_moons coordinates
    outer = p[label == 0]
    inner = np.array([1.0, 0.5]) - p[label == 1]  # the inner moon reflected onto the outer
    t = rng.uniform(0, np.pi, 20_000)
    ref = np.stack([np.cos(t), np.sin(t)], 1) + 0.1 * rng.normal(size=(20_000, 2))
    ref_angle = np.arctan2(ref[:, 1], ref[:, 0])
    for moon in (outer, inner):
        assert stats.ks_2samp(np.arctan2(moon[:, 1], moon[:, 0]), ref_angle).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------
# Streams: determinism, jit, vmap, traced step.


@pytest.fixture(scope="module")
def digits():
    return get_dataset("digits")


@pytest.mark.parametrize("name", ["moons", "8gaussians", "checkerboard", "digits"])
def test_stream_is_pure(name):
    ds = get_dataset(name)
    a = ds.train_batch(KEY, 5, 32)
    b = ds.train_batch(KEY, 5, 32)
    c = ds.train_batch(KEY, 6, 32)
    assert set(a) == ({"x", "label"} if ds.num_classes else {"x"})
    assert a["x"].shape == (32, *ds.event_shape) and a["x"].dtype == jnp.float32
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.allclose(a["x"], c["x"])
    jitted = jax.jit(ds.train_batch, static_argnums=2)
    for k, v in jitted(KEY, 5, 32).items():
        np.testing.assert_allclose(v, a[k], rtol=1e-6, atol=1e-6)
    # Traced step, and a vmap over keys: each row is that key's batch.
    traced = jax.jit(lambda step: ds.train_batch(KEY, step, 32))(jnp.int32(6))
    np.testing.assert_allclose(traced["x"], c["x"], rtol=1e-6, atol=1e-6)
    keys = jax.random.split(KEY, 3)
    many = jax.vmap(lambda k: ds.train_batch(k, 5, 32))(keys)
    assert many["x"].shape == (3, 32, *ds.event_shape)
    np.testing.assert_allclose(many["x"][1], ds.train_batch(keys[1], 5, 32)["x"], rtol=1e-6, atol=1e-6)


def test_toy_dataset_attributes_and_test_batch():
    for name in TOY_SAMPLERS:
        ds = get_dataset(name)
        assert ds.event_shape == (2,) and ds.in_memory and ds.is_synthetic
        assert ds.num_classes == TOY_NUM_CLASSES.get(name)
    ds = get_dataset("pinwheel")
    full = ds.test_batch()
    assert full["x"].shape == (2000, 2) and set(np.unique(full["label"])) == set(range(5))
    np.testing.assert_array_equal(ds.test_batch()["x"], full["x"])
    np.testing.assert_array_equal(ds.test_batch(100)["x"], full["x"][:100])
    # The held-out set is not the training stream of any small seed.
    assert not np.allclose(ds.train_batch(KEY, 0, 2000)["x"], full["x"])
    assert ds.train_batch(KEY, 0, 8)["x"].shape == (8, 2)


# ---------------------------------------------------------------------------------------------
# digits


def _digits_split():
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(1797)
    return data.data.astype(int), data.target, order[:1497], order[1497:]


def assert_dequantized(value_plus_noise, values):
    """``v <= v + u < v + 1`` up to float32 rounding."""
    np.testing.assert_array_less(np.abs(value_plus_noise - values - 0.5), 0.5 + 1e-4)


def test_digits_split_and_dequantization(digits):
    values, target, train, test = _digits_split()
    assert (digits.num_train, digits.num_test) == (1497, 300)
    assert digits.event_shape == (64,) and digits.num_classes == 10 and digits.in_memory
    assert digits.dequantization == Dequantization(levels=17, scale=1 / 17)
    batch = digits.train_batch(KEY, 3, 256)
    idx = np.asarray(digits.train_indices(KEY, 3, 256))
    x = np.asarray(batch["x"])
    assert 0 <= x.min() and x.max() <= 1
    assert_dequantized(x * 17, values[train][idx])
    np.testing.assert_array_equal(batch["label"], target[train][idx])
    noise = x * 17 - values[train][idx]
    assert 0.49 < noise.mean() < 0.51 and noise.var() == pytest.approx(1 / 12, rel=0.05)
    raw = digits.test_values()
    np.testing.assert_array_equal(raw["x"], values[test])
    np.testing.assert_array_equal(raw["label"], target[test])
    test_batch = digits.test_batch()
    assert_dequantized(np.asarray(test_batch["x"]) * 17, values[test])
    np.testing.assert_array_equal(digits.test_batch()["x"], test_batch["x"])
    np.testing.assert_array_equal(digits.test_batch(10)["x"], test_batch["x"][:10])


def test_digits_stream_visits_each_example_once_per_epoch(digits):
    n, b = digits.num_train, 100  # 100 does not divide 1497: batches straddle epochs
    steps = -(-3 * n // b)
    idx = jax.jit(jax.vmap(lambda s: digits.train_indices(KEY, s, b)))(jnp.arange(steps))
    stream = np.asarray(idx).reshape(-1)
    for e in range(3):
        np.testing.assert_array_equal(np.sort(stream[e * n : (e + 1) * n]), np.arange(n))
    assert not np.array_equal(stream[:n], stream[n : 2 * n])  # reshuffled each epoch


def test_digits_stream_far_steps_do_not_overflow(digits):
    """Positions step * B beyond int32 still follow the epoch-permutation definition."""
    n, b, step = digits.num_train, 1000, 10**7 + 3
    got = np.asarray(digits.train_indices(KEY, step, b))
    perm_key = jax.random.fold_in(KEY, 0)
    positions = step * b + np.arange(b)
    perms = {e: np.asarray(jax.random.permutation(jax.random.fold_in(perm_key, e), n))
             for e in np.unique(positions // n)}
    assert len(perms) == 2  # this batch straddles two epochs
    np.testing.assert_array_equal(got, [perms[p // n][p % n] for p in positions])


def test_digits_batch_size_checked(digits):
    with pytest.raises(DataError, match="batch_size"):
        digits.train_batch(KEY, 0, 2000)


# ---------------------------------------------------------------------------------------------
# mnist1d


def test_mnist1d():
    state = np.random.get_state()
    ds = get_dataset("mnist1d")
    assert np.array_equal(np.random.get_state()[1], state[1])  # global numpy RNG untouched
    assert (ds.num_train, ds.num_test, ds.event_shape, ds.num_classes) == (4000, 1000, (40,), 10)
    assert ds.dequantization is None
    batch = ds.train_batch(KEY, 0, 64)
    assert batch["x"].shape == (64, 40) and batch["label"].shape == (64,)
    test = ds.test_batch()
    assert test["x"].shape == (1000, 40) and set(np.unique(test["label"])) == set(range(10))
    x = np.concatenate([np.asarray(ds.train_batch(KEY, s, 1000)["x"]) for s in range(4)])
    assert abs(x.mean()) < 1e-3 and x.std() == pytest.approx(1, abs=1e-3)
    assert get_dataset("mnist1d") is ds


# ---------------------------------------------------------------------------------------------
# tfds images (mock records: image (28, 28, 1) uint8, label int64)


@pytest.fixture
def mock_tfds():
    with tfds.testing.mock_data(num_examples=64):
        yield


def test_tfds_mnist_batches(mock_tfds, tmp_path):
    ds = get_dataset("mnist", data_dir=str(tmp_path))
    assert not ds.in_memory and ds.event_shape == (28, 28, 1) and ds.num_classes == 10
    assert ds.dequantization == Dequantization(levels=256, scale=2 / 256, shift=-1.0)
    batch = ds.train_batch(KEY, 3, 16)
    x = np.asarray(batch["x"])
    assert x.shape == (16, 28, 28, 1) and x.dtype == np.float32
    assert -1 <= x.min() and x.max() <= 1
    assert batch["label"].dtype == jnp.int32 and 0 <= batch["label"].min() and batch["label"].max() < 10
    np.testing.assert_array_equal(ds.train_batch(KEY, 3, 16)["x"], x)
    assert not np.allclose(ds.train_batch(KEY, 4, 16)["x"], x)
    assert not np.allclose(ds.train_batch(jax.random.key(1), 3, 16)["x"], x)
    # One epoch of 64 examples = 4 batches of 16: each record exactly once.
    source = tfds.data_source("mnist", split="train")
    records = np.stack([np.asarray(source[i]["image"], np.float64).ravel() for i in range(64)])
    epoch = np.concatenate([np.asarray(ds.train_batch(KEY, s, 16)["x"]) for s in range(4)])
    pixels_plus_noise = (epoch.reshape(64, -1) + 1) * 128
    distance = np.abs(pixels_plus_noise[:, None] - 0.5 - records[None]).max(-1)
    assert np.array_equal(np.sort(distance.argmin(1)), np.arange(64))
    assert distance.min(1).max() < 0.5 + 1e-4
    test = ds.test_batch(20)
    assert test["x"].shape == (20, 28, 28, 1)
    np.testing.assert_array_equal(ds.test_batch(10)["x"], test["x"][:10])
    assert_dequantized((np.asarray(test["x"]) + 1) * 128, ds.test_values(20)["x"])
    with pytest.raises(DataError, match="in_memory=False"):
        jax.jit(lambda step: ds.train_batch(KEY, step, 16))(3)


def test_tfds_unit_scale_and_celeb_a_resize(mock_tfds, tmp_path):
    # A data_dir per test keeps these mock-backed datasets out of other tests' registry cache.
    x = np.asarray(get_dataset("fashion_mnist", scale="unit", data_dir=str(tmp_path))
                   .train_batch(KEY, 0, 8)["x"])
    assert 0 <= x.min() and x.max() <= 1
    celeb = get_dataset("celeb_a", data_dir=str(tmp_path))
    assert celeb.event_shape == (64, 64, 3) and celeb.num_classes is None
    batch = celeb.train_batch(KEY, 0, 4)
    assert set(batch) == {"x"} and batch["x"].shape == (4, 64, 64, 3)


def test_tfds_not_prepared_fails_fast(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataError, match="not prepared") as info:
        get_dataset("mnist", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 10
    assert "download_and_prepare" in str(info.value) and "download=True" in str(info.value)
    assert not any(tmp_path.iterdir())  # nothing was downloaded or written


# ---------------------------------------------------------------------------------------------
# Registry and validation


def test_registry():
    names = list_datasets()
    assert {"moons", "scurve", "digits", "mnist1d", "mnist", "cifar10", "celeb_a"} <= set(names)
    assert set(names) == set(gd.DATASETS)
    assert get_dataset("moons") is get_dataset("moons")
    with pytest.raises(DataError, match="unknown dataset 'mooons'.*moons.*tfds:"):
        get_dataset("mooons")
    with pytest.raises(DataError, match="options"):
        get_dataset("moons", noise=0.2)
    with pytest.raises(DataError, match="no dataset"):
        get_dataset("tfds:no_such_dataset")


def test_check_batch():
    moons = get_dataset("moons")
    good = moons.train_batch(KEY, 0, 8)
    check_batch(good, moons)
    with pytest.raises(DataError, match=r"data 'x' has shape \(8, 3\); dataset 'moons' expects \(B, 2\)"):
        check_batch({"x": jnp.zeros((8, 3))}, moons)
    with pytest.raises(DataError, match="expects"):
        check_batch({"x": jnp.zeros((2,))}, moons)
    with pytest.raises(DataError, match="non-finite"):
        check_batch({"x": good["x"].at[3, 1].set(jnp.nan)}, moons)
    with pytest.raises(DataError, match="'label'"):
        check_batch({"x": good["x"], "label": good["label"][:4]}, moons)
    with pytest.raises(DataError, match="2 classes"):
        check_batch({"x": good["x"], "label": good["label"] + 2}, moons)
    with pytest.raises(DataError, match="no labels"):
        check_batch(good, get_dataset("swissroll"))
    with pytest.raises(DataError, match="dict"):
        check_batch(good["x"], moons)
    jax.jit(lambda b: check_batch(b, moons))(good)  # shape checks work on traced batches


def test_data_imports_no_other_genjax_subpackage():
    root = pathlib.Path(gd.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("genjax"):
                assert node.module == "genjax.errors" or node.module.startswith("genjax.data"), path
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("genjax") or alias.name.startswith("genjax.data")
