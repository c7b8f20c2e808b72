"""Flows and flow Models: densities integrate to 1, samples agree with log_prob, CIF bounds,
the data interface, every registered model through the Model contract, images on mock MNIST."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import bijectors as B
from genjax import data as gdata
from genjax import train
from genjax.config import default_config
from genjax.distributions import Flow, StandardNormal, diagonal_normal_log_prob
from genjax.errors import ConfigError
from genjax.registry import build_model
from tests.test_bijectors import init_variables

GRID_HALF_WIDTH = 7.0
GRID_POINTS = 351


def _grid():
    ticks = jnp.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)
    xx, yy = jnp.meshgrid(ticks, ticks, indexing="ij")
    cell = float(ticks[1] - ticks[0]) ** 2
    return jnp.stack([xx.ravel(), yy.ravel()], -1), cell


def _grid_mass(log_prob):
    """``(sum of p * cell area, grid, p)`` over [-7, 7]^2 (midpoint rule)."""
    pts, cell = _grid()
    p = jnp.exp(jax.jit(log_prob)(pts))
    return float(jnp.sum(p) * cell), pts, p, cell


def _toy_config(name, train_steps=300, data="8gaussians", **model):
    c = default_config()
    c.data.name = data
    c.data.batch_size = 256
    c.model = ml_collections.ConfigDict({"name": name, **model})
    c.train.steps = train_steps
    c.train.lr = 2e-3
    c.train.steps_per_dispatch = train_steps
    c.train.ema_decay = 0.0
    c.train.progress = False
    c.train.plot = False
    c.eval.num_samples = 500
    c.eval.repeats = 1
    c.eval.mmd = False
    return c


def test_untrained_flow_density_integrates_to_one_and_samples_agree():
    bij = B.architectures.nsf(num_layers=3, hidden=(16,), num_bins=6, bound=3.0)
    flow = Flow(StandardNormal((2,)), bij)
    x = 1.5 * jax.random.normal(jax.random.key(0), (256, 2))
    v = init_variables(bij, x, perturb=0.2)  # larger moves make density spikes a grid cannot resolve
    mass, pts, p, cell = _grid_mass(lambda pts: flow.log_prob(v, pts))
    assert abs(mass - 1.0) < 0.01, mass
    # a non-trivial density: far from the base's N(0, I)
    base_p = jnp.exp(StandardNormal((2,)).log_prob(pts))
    assert float(jnp.sum(jnp.abs(p - base_p)) * cell) > 0.1

    # sample_and_log_prob's forward log-density equals log_prob's inverse one
    xs, lp = jax.jit(lambda k: flow.sample_and_log_prob(v, k, 20_000))(jax.random.key(1))
    diff = np.abs(np.asarray(lp - jax.jit(lambda x: flow.log_prob(v, x))(xs)))
    # float32: a few samples sit where a spline is nearly flat and the inverse loses digits
    assert np.quantile(diff, 0.999) < 2e-4 and diff.max() < 5e-3, (np.quantile(diff, 0.999), diff.max())
    # samples follow the density: E_samples[log p] against the grid's integral of p log p
    mean = float(jnp.mean(lp))
    stderr = float(jnp.std(lp)) / math.sqrt(lp.shape[0])
    quadrature = float(jnp.sum(p * jnp.log(jnp.maximum(p, 1e-30))) * cell)
    assert abs(mean - quadrature) < 4 * stderr + 2e-3, (mean, quadrature, stderr)
    # and cell by cell: the sample histogram matches the density's mass on a 14 x 14 grid
    coarse = np.asarray(p).reshape(GRID_POINTS, GRID_POINTS)[:350, :350].reshape(14, 25, 14, 25).sum((1, 3)) * cell
    edges = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, 351)[[0, *range(25, 351, 25)]]
    hist, _, _ = np.histogram2d(np.asarray(xs[:, 0]), np.asarray(xs[:, 1]), bins=[edges, edges])
    tv = 0.5 * np.abs(hist / xs.shape[0] - coarse / coarse.sum()).sum()
    assert tv < 0.03, tv


def test_trained_flow_density_integrates_to_one():
    trainer = train.Trainer.from_config(_toy_config("realnvp", num_layers=4, hidden=(32, 32)))
    state = trainer.init()
    state, metrics = trainer.run(state, 0, 300)
    assert float(metrics["loss"][-1]) < float(metrics["loss"][0]) - 0.5  # it trained
    params = trainer.eval_params(state)[0]
    mass, _, _, _ = _grid_mass(lambda pts: trainer.model.log_prob(params, pts))
    assert abs(mass - 1.0) < 0.01, mass


# Slow tier: the default tier's bijector tests check every model's layers, and
# test_trained_flow_density_integrates_to_one runs a FlowModel through the trainer.
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(B.MODELS))
def test_every_registered_flow_runs_the_model_contract(name):
    """Each model builds from a config, initialises on data, has a finite loss and gradient,
    log_prob and samples of the right shape, all under jit."""
    dataset = gdata.get_dataset("8gaussians")
    batch = dataset.sample(jax.random.key(0), 64)
    tiny = {"num_layers": 2, "hidden": (8,)}
    extra = {"nsf": {"num_bins": 4}, "resflow": {"terms": 4}, "cif": {"eval_samples": 4}}
    model = build_model(ml_collections.ConfigDict({"name": name, **tiny, **extra.get(name, {})}), dataset)

    @jax.jit
    def run(key):
        params = model.init(key, batch)
        (loss, metrics), grads = jax.value_and_grad(model.loss, has_aux=True)(params, batch, key)
        grad_norm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree_util.tree_leaves(grads)))
        return loss, grad_norm, model.log_prob(params, batch["x"], key=key), model.sample(params, key, 16)

    loss, grad_norm, logp, samples = run(jax.random.key(1))
    assert np.isfinite(float(loss)) and float(grad_norm) > 0
    assert logp.shape == (64,) and np.all(np.isfinite(np.asarray(logp)))
    assert samples.shape == (16, 2) and np.all(np.isfinite(np.asarray(samples)))


@pytest.mark.slow
def test_vmapped_seeds_train_a_flow_with_actnorm():
    config = _toy_config("glow", train_steps=20, num_layers=2, hidden=(16,))
    config.train.num_seeds = 2
    trainer = train.Trainer.from_config(config)
    state, metrics = trainer.run(trainer.init(), 0, 20)
    assert metrics["loss"].shape == (2, 20)
    assert np.all(np.isfinite(np.asarray(metrics["loss"])))
    assert float(jnp.abs(metrics["loss"][0, -1] - metrics["loss"][1, -1])) > 0  # different seeds


def test_logit_interface_density_is_the_closed_form():
    """On bounded data the flow ends with sigmoid + affine: with an identity core the density of
    x in [low, high) is the logistic-normal density, computed here by hand."""
    low, high, alpha = -1.0, 1.0, 0.05
    bij = B.architectures.with_data_interface(B.Identity(), (3,), (3,), data_range=(low, high), logit_alpha=alpha)
    flow = Flow(StandardNormal((3,)), bij)
    x = jax.random.uniform(jax.random.key(0), (50, 3), minval=low, maxval=high)
    v = bij.init(jax.random.key(0), x)
    p = alpha + (1 - 2 * alpha) * (x - low) / (high - low)
    z = jnp.log(p) - jnp.log1p(-p)
    dz_dx = (1 - 2 * alpha) / (high - low) / (p * (1 - p))
    expected = jnp.sum(-0.5 * z**2 - 0.5 * math.log(2 * math.pi) + jnp.log(dz_dx), -1)
    np.testing.assert_allclose(flow.log_prob(v, x), expected, atol=1e-4)
    samples = flow.sample(v, jax.random.key(1), 1000)
    assert float(samples.min()) > low - 0.06 and float(samples.max()) < high + 0.06


@pytest.mark.slow
def test_digits_flow_reports_bits_per_dim():
    c = _toy_config("maf", train_steps=5, data="digits", num_layers=2, hidden=(32,))
    c.data.batch_size = 64
    trainer = train.Trainer.from_config(c)
    state, metrics = trainer.run(trainer.init(), 0, 5)
    results = trainer.evaluate(state)
    # dequantized 17-level data: the bound is finite and below the uniform model's log2(17)
    assert 0 < results["bits_per_dim"] < math.log2(17) + 1.0
    assert np.isfinite(results["nll"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["glow", "realnvp"])
def test_multiscale_image_flow_trains_on_mock_mnist(name):
    import tensorflow_datasets as tfds

    c = _toy_config(name, train_steps=2, data="mnist", levels=2, steps_per_level=1, channels=8)
    c.data.batch_size = 8
    c.train.steps_per_dispatch = 1
    c.eval.batch_size = 32
    with tfds.testing.mock_data(num_examples=32):
        trainer = train.Trainer.from_config(c)
        state = trainer.init()
        for step in range(2):
            state, metrics = trainer.run(state, step, 1)
            assert np.isfinite(float(metrics["loss"][0]))
        params = trainer.eval_params(state)[0]
        x = trainer.dataset.test_batch(8)["x"]
        logp = jax.jit(trainer.model.log_prob)(params, x)
        samples = jax.jit(lambda p, k: trainer.model.sample(p, k, 4))(params, jax.random.key(0))
    assert logp.shape == (8,) and np.all(np.isfinite(np.asarray(logp)))
    assert samples.shape == (4, 28, 28, 1)
    # the flow maps onto the data range [-1, 1)
    assert float(samples.min()) > -1.1 and float(samples.max()) < 1.1
    bits = -np.asarray(logp) / (784 * math.log(2)) + 7.0  # + log2(128) for the [-1, 1) scale
    assert np.all(bits > 0)


def test_config_errors_name_the_key():
    dataset = gdata.get_dataset("8gaussians")
    with pytest.raises(ConfigError, match=r"model\.hiden"):
        build_model(ml_collections.ConfigDict({"name": "realnvp", "hiden": (8,)}), dataset)
    with pytest.raises(ConfigError, match=r"model\.num_bins"):
        build_model(ml_collections.ConfigDict({"name": "nsf", "num_bins": 0}), dataset)
    with pytest.raises(ConfigError, match=r"model\.preprocess"):
        build_model(ml_collections.ConfigDict({"name": "maf", "preprocess": "logit"}), dataset)


# ---------------------------------------------------------------------------------------------
# CIF


def _cif_and_params():
    dataset = gdata.get_dataset("circles")
    model = build_model(
        ml_collections.ConfigDict({"name": "cif", "num_layers": 2, "hidden": (16,), "u_dim": 1,
                                   "posterior_hidden": (16,), "prior_hidden": (16,), "index_hidden": (16,)}),
        dataset,
    )
    batch = dataset.sample(jax.random.key(0), 8)
    params = model.init(jax.random.key(1), batch)
    # Move the zero-initialised heads so q(u|x) differs from p(u|x): a real gap to close.
    params = jax.tree_util.tree_map(lambda p: p + 0.05 * jnp.sin(jnp.arange(p.size).reshape(p.shape) + 1.0), params)
    return model, params, batch["x"]


@pytest.mark.slow  # importance sampling at several K with a trained-size network
def test_cif_bound_is_below_the_importance_weighted_estimate_which_tightens():
    model, params, x = _cif_and_params()
    keys = jax.random.split(jax.random.key(2), 200)

    def estimates(k):
        return jnp.stack([model.importance_weighted(params, x, k, n) for n in (1, 10, 100)]), model.elbo(params, x, k)

    est, elbo = jax.jit(jax.vmap(estimates))(keys)  # [keys, 3, batch], [keys, batch]
    est, elbo = np.asarray(est), np.asarray(elbo).mean(0)
    n = keys.shape[0]
    mean, se = est.mean(0), est.std(0) / math.sqrt(n)
    np.testing.assert_allclose(elbo, mean[0], atol=4 * se[0].max() + 1e-4)  # K = 1 is the ELBO
    # More samples never loosen the bound (per point, up to noise) and tighten it on average.
    for lo, hi in ((0, 1), (1, 2)):
        d = est[:, hi] - est[:, lo]
        d_mean, d_se = d.mean(0), d.std(0) / math.sqrt(n)
        assert np.all(d_mean > -3 * d_se), (lo, hi, d_mean, d_se)
        avg = d.mean(1)
        assert avg.mean() > 3 * avg.std() / math.sqrt(n), (lo, hi)

    # The exact log p(x) = log integral p(x, u) du (1-D u, quadrature) bounds them all and the
    # K = 100 estimate comes close to it.
    u = jnp.linspace(-12.0, 12.0, 4001)[:, None]
    du = 24.0 / 4000

    def log_joint(xi):
        xs = jnp.broadcast_to(xi, (u.shape[0], xi.shape[-1]))
        z, ld = model.bijector.apply(params["bijector"], xs, u, method="inverse_and_log_det")
        pm, pls = model.prior.apply(params["prior"], z)
        lj = model.base.log_prob(z) + ld + diagonal_normal_log_prob(u, pm, pls)
        return jax.nn.logsumexp(lj) + math.log(du)

    exact = np.asarray(jax.jit(jax.vmap(log_joint))(x))
    assert np.all(mean < exact + 3 * se + 1e-3)  # every K is a lower bound
    gap_1, gap_100 = (exact - mean[0]).mean(), (exact - mean[2]).mean()
    assert gap_1 > 0.05 and gap_100 < 0.2 * gap_1, (gap_1, gap_100)
    assert float(np.max(exact - mean[2])) < 0.1
