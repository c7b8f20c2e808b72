"""The VAE family: KLs, likelihoods, gradients, training objectives and the hierarchical VAE's checks.

pPCA closed forms (bounds against exact log-likelihoods) are in ``test_vae_ppca.py``.
"""

import math
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import data
from genjax.data import Dequantization
from genjax.errors import ConfigError
from genjax.vae import (
    Bernoulli,
    DiscretizedLogistic,
    Gaussian,
    build_hvae,
    build_vae,
    free_bits_kl,
    gaussian_kl,
    gaussian_kl_residual,
    kl_balance_coefficients,
    kl_weight,
)
from genjax.vae import spectral

DIGITS = Dequantization(levels=17, scale=1.0 / 17)


def _normal_logpdf(x, mean, log_std):
    return -0.5 * ((x - mean) * np.exp(-log_std)) ** 2 - 0.5 * math.log(2 * math.pi) - log_std


def _f64(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a,
                                  tree)


# -- KL ------------------------------------------------------------------------------------------


def test_analytic_kls_equal_monte_carlo_within_three_standard_errors():
    rng = np.random.default_rng(0)
    n = 200_000
    for mean, log_std in [(0.7, -0.4), (-1.5, 0.3), (0.0, 0.0), (2.0, -1.2)]:
        z = mean + math.exp(log_std) * rng.standard_normal(n)
        mc = _normal_logpdf(z, mean, log_std) - _normal_logpdf(z, 0.0, 0.0)
        analytic = float(gaussian_kl(jnp.asarray(mean), jnp.asarray(log_std)))
        assert abs(mc.mean() - analytic) <= 3 * mc.std() / math.sqrt(n), (mean, log_std)
    # The residual parameterisation of the hierarchical VAE: q = N(mu + dmu, (s e^dl)^2), p = N(mu, s^2).
    for mu, ls_p, dmu, dl in [(0.3, -0.5, 0.4, -0.2), (-1.0, 0.7, -1.1, 0.5)]:
        z = mu + dmu + math.exp(ls_p + dl) * rng.standard_normal(n)
        mc = _normal_logpdf(z, mu + dmu, ls_p + dl) - _normal_logpdf(z, mu, ls_p)
        analytic = float(gaussian_kl_residual(jnp.asarray(dmu), jnp.asarray(dl), jnp.asarray(ls_p)))
        assert abs(mc.mean() - analytic) < 3 * mc.std() / math.sqrt(n)
    assert float(gaussian_kl_residual(jnp.zeros(()), jnp.zeros(()), jnp.asarray(1.3))) == 0.0


# -- likelihoods -----------------------------------------------------------------------------------


def test_discretized_logistic_is_a_density_of_the_dequantized_values():
    lik = DiscretizedLogistic(DIGITS)
    rng = np.random.default_rng(1)
    params = jnp.asarray(rng.normal(size=(6, 2)) * np.array([1.5, 2.0]))  # [6 pixels, (raw mu, raw log s)]
    v = jnp.arange(17.0)
    # x = (v + u) / 17 at bins v and offsets u within them
    x = (jnp.asarray([[3.0, 0.0, 16.0, 8.0, 1.0, 12.0]]) + jnp.asarray([[0.1, 0.5, 0.99, 0.0, 0.7, 0.3]])) / 17

    @jax.jit  # one program: eager dispatch of every small op costs more than the maths
    def quantities(params, x):
        mu, log_s = lik._split(params)
        probs = jnp.exp(lik.bin_log_prob(v[None, :], mu[:, None], log_s[:, None]))  # [6, 17]
        far = lik.bin_log_prob(v, jnp.asarray(5.0), jnp.asarray(-9.0))
        draws = lik.sample(jax.random.key(0), jnp.broadcast_to(params[0], (40_000, 2)))
        return (probs, far, lik.log_prob(x, params[None]), draws, lik.mean(params[:1]),
                lik.sample(jax.random.key(1), params, 0.0), mu)

    probs, far, lp, draws, mean, at_zero, mu = quantities(params, x)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=2e-6)
    # Extreme scales and locations stay finite and normalised.
    assert bool(jnp.all(jnp.isfinite(far))) and abs(float(jnp.exp(far).sum()) - 1) < 1e-5
    # The density of x = (v + u) / 17 is P(v) * 17 at every u: -log p(x) - log 17 = -log P(v).
    expected = jnp.sum(jnp.log(probs[jnp.arange(6), jnp.asarray([3, 0, 16, 8, 1, 12])])) + 6 * math.log(17)
    np.testing.assert_allclose(lp, expected, rtol=1e-5)
    # Draws follow P(v) (a binomial bound per bin) and fall in their bin uniformly.
    bins = np.floor(np.asarray(draws) * 17).astype(int)
    freq = np.bincount(bins, minlength=17) / bins.size
    p0 = np.asarray(probs[0])
    assert np.all(np.abs(freq - p0) < 4 * np.sqrt(p0 * (1 - p0) / bins.size) + 1e-4)
    within = np.asarray(draws) * 17 - bins
    assert abs(within.mean() - 0.5) < 4 * math.sqrt(1 / 12 / bins.size)
    # The mean is the expectation of the bin centres under P(v).
    np.testing.assert_allclose(mean, (jnp.sum(probs[0] * v) + 0.5) / 17, rtol=1e-5)
    # Temperature 0 gives the centre of the location's bin.
    np.testing.assert_allclose(at_zero, (jnp.clip(jnp.floor(mu * 17), 0, 16) + 0.5) / 17, rtol=1e-6)


def test_dynamic_binarisation_draws_a_fresh_binarisation_with_every_key():
    lik = Bernoulli(DIGITS)
    x = jnp.asarray([[0.05, 0.3, 0.6, 0.95]])
    draws = jax.jit(jax.vmap(lik.observe, in_axes=(0, None)))(jax.random.split(jax.random.key(0), 4000), x)
    assert set(np.unique(np.asarray(draws))) <= {0.0, 1.0}
    p = np.asarray(lik.intensity(x))[0]
    freq = np.asarray(draws.mean(0))[0]
    assert np.all(np.abs(freq - p) < 3 * np.sqrt(p * (1 - p) / 4000))
    assert not bool(jnp.all(draws[0] == draws[1]) & jnp.all(draws[1] == draws[2]) & jnp.all(draws[2] == draws[3]))
    logits = jnp.asarray([[[0.3], [-2.0]]])
    b = jnp.asarray([[1.0, 0.0]])
    assert float(lik.log_prob(b, logits)[0]) == pytest.approx(math.log(1 / (1 + math.exp(-0.3))) + math.log(1 / (1 + math.exp(-2.0))), rel=1e-6)


def test_gaussian_decoder_temperature_scales_its_noise():
    lik = Gaussian("output", 1.0)
    params = jnp.broadcast_to(jnp.asarray([1.0, math.log(2.0)]), (50_000, 1, 2))
    draws = np.asarray(lik.sample(jax.random.key(0), params, 0.5))[:, 0]
    assert abs(draws.mean() - 1.0) < 3 * 1.0 / math.sqrt(50_000)
    assert abs(draws.std() - 1.0) < 0.02  # 0.5 * exp(log 2) = 1
    np.testing.assert_array_equal(lik.sample(jax.random.key(0), params[:3], 0.0), params[:3, :, 0])


# -- schedules -------------------------------------------------------------------------------------


def test_warmup_free_bits_and_kl_balance():
    assert float(kl_weight(250, 1000)) == 0.25 and float(kl_weight(5000, 1000)) == 1.0
    assert float(kl_weight(3, 0)) == 1.0 and float(kl_weight(None, 1000)) == 1.0
    kl = jnp.asarray([[0.1, 2.0, 0.4], [0.3, 1.0, 0.2]])  # [batch, units]
    np.testing.assert_allclose(free_bits_kl(kl, 0.0, (1, 1, 1)), [0.2, 1.5, 0.3])
    np.testing.assert_allclose(free_bits_kl(kl, 0.5, (1, 1, 1)), [0.5, 1.5, 0.5])
    grad = jax.grad(lambda k: jnp.sum(free_bits_kl(k, 0.5, (1, 1, 1))))(kl)
    np.testing.assert_allclose(grad, [[0.0, 0.5, 0.0], [0.0, 0.5, 0.0]])  # below the free bits: no gradient
    gamma = kl_balance_coefficients(kl, (1, 1, 1), jnp.asarray(0.5))
    assert float(jnp.mean(gamma)) == pytest.approx(1.0)
    ratio = (jnp.mean(kl, 0) + 0.01) / (jnp.mean(kl, 0)[0] + 0.01)
    np.testing.assert_allclose(gamma / gamma[0], ratio, rtol=1e-6)
    np.testing.assert_allclose(kl_balance_coefficients(kl, (1, 1, 1), jnp.asarray(1.0)), 1.0)
    # Larger groups get proportionally smaller coefficients.
    g2 = kl_balance_coefficients(jnp.ones((2, 2)), (1, 3), jnp.asarray(0.0))
    assert float(g2[0] / g2[1]) == pytest.approx(3.0)


# -- models ----------------------------------------------------------------------------------------


def _cfg(**kw):
    return ml_collections.ConfigDict({"eval_samples": 8, "eval_chunk": 4, "eval_ks": (4,), **kw})


@pytest.fixture(scope="module")
def digits():
    ds = data.get_dataset("digits")
    return ds, ds.train_batch(jax.random.key(0), 0, 16)


def _check_gradients(digits, extra):
    """d/dp of the one-draw ELBO at a fixed key (a deterministic function of the parameters: the
    reparameterisation) against central finite differences along a random direction, in float64."""
    ds, batch = digits
    with jax.enable_x64(True):
        model = build_vae(_cfg(name="vae", latent_dim=3, hidden=(16,), likelihood="logistic", **extra), ds)
        x = jnp.asarray(batch["x"][:4], jnp.float64)
        params = _f64(jax.jit(model.init)(jax.random.key(1), {"x": x}))
        leaves, treedef = jax.tree_util.tree_flatten(params)
        rng = np.random.default_rng(3)
        direction = jax.tree_util.tree_unflatten(treedef, [rng.standard_normal(l.shape) for l in leaves])
        key, h = jax.random.key(2), 1e-5

        @jax.jit  # one program: eager tree arithmetic costs more than the maths here
        def check(params, direction):
            # The IAF's MADE starts at zero (the identity); move it off so its gradient is exercised.
            params = jax.tree_util.tree_map(lambda p: p + 0.05 * jnp.sin(jnp.arange(p.size).reshape(p.shape)), params)
            f = lambda p: jnp.sum(model.elbo(p, x, key))
            fd = (f(jax.tree_util.tree_map(lambda p, d: p + h * d, params, direction))
                  - f(jax.tree_util.tree_map(lambda p, d: p - h * d, params, direction))) / (2 * h)
            grad = jax.grad(f)(params)
            return sum(jnp.vdot(g, d) for g, d in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(direction))), fd

        along, fd = check(params, direction)
        assert float(along) == pytest.approx(float(fd), rel=1e-6), extra


def test_reparameterised_gradients_agree_with_finite_differences(digits):
    _check_gradients(digits, {"posterior": "gaussian"})


@pytest.mark.slow
def test_flow_posterior_gradients_agree_with_finite_differences(digits):
    _check_gradients(digits, {"posterior": "iaf", "flow_layers": 1, "flow_hidden": (8,)})


@pytest.mark.slow  # temperature 0 in the default tier: the hierarchical VAE's test and each decoder's
def test_vae_temperature_zero_decodes_the_prior_mean(digits):
    ds, batch = digits
    model = build_vae(_cfg(name="vae", latent_dim=3, hidden=(16,)), ds)
    params = jax.jit(model.init)(jax.random.key(0), batch)
    sample = jax.jit(lambda p, k: model.sample(p, k, 4, sampler="default:temperature=0"))
    a, b = sample(params, jax.random.key(1)), sample(params, jax.random.key(2))
    np.testing.assert_array_equal(a, b)
    mode, means = jax.jit(lambda p, k: (model.likelihood.sample(None, model.decode(p, jnp.zeros((4, 3))), 0.0),
                                       model.sample(p, k, 4, sampler="mean")))(params, jax.random.key(1))
    np.testing.assert_allclose(a, mode, atol=1e-6)
    assert bool(jnp.all((means >= 0) & (means < 1)))


def test_config_errors_are_one_line():
    moons = data.get_dataset("moons")
    digits_ds = data.get_dataset("digits")
    cases = [
        (build_vae, {"name": "vae", "likelihood": "bernoulli"}, moons, "needs data of discrete values"),
        (build_vae, {"name": "vae", "posterior": "spline", "latent_dim": 1}, moons, "latent_dim >= 2"),
        (build_vae, {"name": "vae", "objective": "iwae", "kl_warmup_steps": 10}, moons, "objective 'elbo' only"),
        (build_vae, {"name": "vae", "posterior": "maf"}, moons, "model.posterior"),
        (build_hvae, {"name": "hvae", "image_shape": (8, 4, 1)}, digits_ds, "H * W * C = 64"),
        (build_hvae, {"name": "hvae", "image_shape": (8, 8, 1), "downsample": 4}, digits_ds, "divisible"),
        (build_vae, {"name": "vae", "latent_dims": 3}, moons, "did you mean 'model.latent_dim'"),
    ]
    for build, cfg, ds, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)) as err:
            build(ml_collections.ConfigDict(cfg), ds)
        assert "\n" not in str(err.value)


# -- the hierarchical VAE --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hvae_vectors(digits):
    ds, batch = digits
    model = build_hvae(_cfg(name="hvae", num_groups=3, latent_dim=3, width=16), ds)
    return model, jax.jit(model.init)(jax.random.key(4), batch), batch


def test_per_group_kls_sum_to_the_total_kl(hvae_vectors):
    # KL(q(z_1..L | x) || p(z_1..L)) = E_q[sum_l log q(z_l | .) - log p(z_l | .)]; the analytic
    # group KLs (each given the upper groups' draw) sum to an unbiased estimate of it.
    model, params, batch = hvae_vectors
    x = batch["x"][:4]

    @jax.jit
    def draws(p, keys):
        def one(k):
            _, stats, _ = model.posterior_draw(p, x, k)
            return jnp.sum(stats["kl"], -1), -stats["log_ratio"], stats["kl"]

        return jax.vmap(one)(keys)

    summed, mc, per_group = draws(params, jax.random.split(jax.random.key(5), 2000))
    assert per_group.shape == (2000, 4, 3)
    diff = np.asarray(summed - mc)
    assert np.all(np.abs(diff.mean(0)) < 3 * diff.std(0) / math.sqrt(diff.shape[0])), (diff.mean(0), diff.std(0))
    # The training metrics log each group's KL; they sum to the logged KL.
    _, metrics = jax.jit(lambda p: model.train_loss(p, batch, jax.random.key(6), 10))(params)
    total = sum(float(metrics[f"kl/group{l}"]) for l in range(3))
    assert total == pytest.approx(float(metrics["kl"]), rel=1e-5)


def test_one_group_reduces_to_the_plain_vae(digits):
    # With L = 1 the prior is N(0, I) and q a diagonal Gaussian: the ELBO's KL is the plain VAE's
    # analytic KL and the importance weight is log p(x | z) + log N(z; 0, I) - log q(z | x).
    ds, batch = digits
    model = build_hvae(_cfg(name="hvae", num_groups=1, latent_dim=3, width=16), ds)
    params = jax.jit(model.init)(jax.random.key(7), batch)
    x = batch["x"][:8]
    @jax.jit  # posterior_draw and log_weights with the same key draw the same eps
    def run(p, x, k):
        out, stats, eps = model.posterior_draw(p, x, k)
        return stats, eps[0], model.likelihood.log_prob(x, out), model.log_weights(p, x, k)

    stats, eps, recon, lw = jax.tree_util.tree_map(np.asarray, run(params, x, jax.random.key(8)))
    (mean, log_std), = stats["posterior"]
    z = stats["z"][0]
    np.testing.assert_array_equal(stats["prior_mean"][0], 0.0)
    np.testing.assert_allclose(z, mean + np.exp(log_std) * eps, rtol=1e-6)
    kl = 0.5 * (mean**2 + np.exp(2 * log_std) - 1) - log_std  # KL(N(m, s^2) || N(0, 1))
    np.testing.assert_allclose(stats["kl"][:, 0], kl.sum(-1), rtol=1e-5)
    log_q = np.sum(_normal_logpdf(z, mean, log_std), -1)
    log_p = np.sum(_normal_logpdf(z, 0.0, 0.0), -1)
    np.testing.assert_allclose(lw, recon + log_p - log_q, rtol=1e-5)


def _off_zero(v):
    """Parameters moved off the zero-initialised prior heads, so that the lower groups' prior means are not 0."""
    return jax.tree_util.tree_map(lambda p: p + 0.3 * jnp.sin(jnp.arange(p.size).reshape(p.shape)), v)


def test_power_iteration_matches_the_svd():
    # One iteration per training step from the persistent vector (as after_update does), for a dense
    # [in, out] and a convolution [kh, kw, in, out] kernel, a zero kernel (keeps its vector) and
    # the loss's penalty sum_W sigma(W).
    rng = np.random.default_rng(0)
    weights = {"dense": {"kernel": jnp.asarray(rng.normal(size=(12, 7)), jnp.float32)},
               "conv": {"kernel": jnp.asarray(rng.normal(size=(3, 3, 4, 5)), jnp.float32)},
               "zero": {"kernel": jnp.zeros((6, 3)), "bias": jnp.ones(3)}}

    @jax.jit
    def run(w):
        u = spectral.init_power_vectors(jax.random.key(1), w, iters=1)
        u = jax.lax.fori_loop(0, 300, lambda i, u: spectral.power_iterate(spectral.kernels(w), u, 1), u)
        return u, spectral.spectral_norms(w, u), spectral.spectral_penalty(w, u)

    u, norms, penalty = run(weights)
    assert set(norms) == {"dense", "conv", "zero"} and "bias" not in norms["zero"]
    for name in ("dense", "conv"):
        w = np.asarray(weights[name]["kernel"])
        top = np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]
        assert abs(float(norms[name]["kernel"]) - top) <= 0.01 * top, (name, float(norms[name]["kernel"]), top)
    assert float(jnp.linalg.norm(u["zero"]["kernel"])) == pytest.approx(1.0, rel=1e-5)
    assert float(norms["zero"]["kernel"]) == 0.0
    assert float(penalty) == pytest.approx(float(norms["dense"]["kernel"] + norms["conv"]["kernel"]), rel=1e-6)


def test_hierarchical_temperature_zero_gives_the_prior_means(hvae_vectors):
    model, params, _ = hvae_vectors
    params = {**params, "vae": jax.jit(_off_zero)(params["vae"])}

    @jax.jit
    def at_zero(p, k):
        z, mean, out = model.sample_latents(p, k, 3, 0.0)
        return z, mean, out, model.sample(p, k, 3, sampler="default:temperature=0")

    z, mean, out, a = at_zero(params, jax.random.key(2))
    *_, b = at_zero(params, jax.random.key(3))
    for zl, ml in zip(z, mean):
        np.testing.assert_array_equal(zl, ml)
    np.testing.assert_array_equal(z[0], 0.0)
    assert float(jnp.std(mean[1])) > 0  # the lower group's prior mean comes from the top-down path
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, model.likelihood.sample(None, out, 0.0), atol=1e-6)


def _check_model_power_iteration(model, batch):
    params = jax.jit(model.init)(jax.random.key(9), batch)
    params["vae"] = jax.jit(_off_zero)(params["vae"])
    # One iteration per training step, persisting in params["power"]: 300 steps.
    params = jax.jit(lambda p: jax.lax.fori_loop(0, 300, lambda i, q: model.after_update(q, i), p))(params)
    estimates = jax.tree_util.tree_leaves(model.spectral_norms(params))
    kernels = jax.tree_util.tree_leaves(spectral.kernels(params["vae"]["params"]))
    assert len(estimates) == len(kernels) > 10
    for est, w in zip(estimates, kernels):
        top = np.linalg.svd(np.asarray(w).reshape(-1, w.shape[-1]), compute_uv=False)[0]
        assert abs(float(est) - top) <= 0.01 * top, (float(est), top, w.shape)
    # The loss's penalty is their sum.
    loss, metrics = jax.jit(model.loss)(params, batch, jax.random.key(1))
    assert float(metrics["spectral_norm_sum"]) == pytest.approx(float(sum(estimates)), rel=1e-5)
    assert float(loss) == pytest.approx(-float(metrics["elbo"]) + 0.1 * float(metrics["spectral_norm_sum"]), rel=1e-5)
    # Temperature 0 with the image cells too: the prior means whatever the key.
    sample = jax.jit(lambda p, k: model.sample(p, k, 3, sampler="default:temperature=0"))
    np.testing.assert_array_equal(sample(params, jax.random.key(2)), sample(params, jax.random.key(3)))


@pytest.mark.slow
def test_model_power_iteration_over_every_kernel_and_its_loss_penalty(digits):
    ds, batch = digits
    model = build_hvae(_cfg(name="hvae", num_groups=2, latent_dim=2, width=8, spectral_reg=0.1, power_init_iters=5), ds)
    _check_model_power_iteration(model, batch)


@pytest.mark.slow
def test_convolutional_cells_power_iteration_and_temperature_zero(digits):
    ds, batch = digits
    model = build_hvae(_cfg(name="hvae", num_groups=2, latent_dim=2, width=8, image_shape=(8, 8, 1),
                            spectral_reg=0.1, power_init_iters=5), ds)
    _check_model_power_iteration(model, batch)
