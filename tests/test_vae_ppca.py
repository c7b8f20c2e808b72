"""The VAE code against probabilistic PCA, where every bound has a closed form (float64).

Model: ``z ~ N(0, I_2)``, ``x | z ~ N(W z + mu, s2 I_5)`` with ``s2 = 0.5`` and a ``W`` whose
exact posterior has correlation ``r = 0.60`` (mean-field gap 0.228 nats). The VAE's networks are
linear (``hidden=()``), so a VAE can hold the exact model and the exact or best mean-field
posterior, set by hand from the closed forms of ``genjax.vae.linear_gaussian``.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.vae import VAE, Gaussian, VAENet
from genjax.vae import linear_gaussian as lg
from genjax.vae.likelihoods import soft_clamp

W = np.array([[1.0, 0.8], [0.5, 0.4], [0.3, 0.6], [-0.2, 0.1], [0.4, -0.1]])
MU = np.array([0.3, -0.2, 0.1, 0.0, 0.5])
S2 = 0.5
CLAMP = 5.0  # the posterior's log-scale soft clamp (VAENet.max_log_std)


def _raw(log_std):
    """The pre-clamp value whose ``5 tanh(raw / 5)`` is ``log_std``."""
    return CLAMP * np.arctanh(np.asarray(log_std) / CLAMP)


def _data(n, seed=0, w=W, mu=MU, s2=S2):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, w.shape[1]))
    return z @ w.T + mu + math.sqrt(s2) * rng.standard_normal((n, w.shape[0]))


def _linear_vae(posterior="gaussian", scale="fixed", std=math.sqrt(S2), **kw):
    net = VAENet(event_shape=(5,), latent_dim=2, likelihood=Gaussian(scale, std), hidden=(), posterior_kind=posterior,
                 flow_layers=1, flow_hidden=kw.pop("flow_hidden", ()), context_dim=1, **kw)
    return VAE(net, eval_chunk=250)


def _posterior_map():
    """``m(x) = A (x - mu)`` with ``A [2, 5]`` and the posterior covariance ``[2, 2]``."""
    lam = W.T @ W / S2 + np.eye(2)
    cov = np.linalg.inv(lam)
    return cov @ W.T / S2, cov, lam


def _f64(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), tree)


def _mean_field_params(model):
    """The linear VAE holding the pPCA model and its best mean-field posterior N(m(x), diag(1/Lambda_ii))."""
    a, _, lam = _posterior_map()
    p = jax.tree_util.tree_map(np.asarray, jax.jit(model.init)(jax.random.key(0), {"x": np.zeros((2, 5))}))
    v = p["vae"]["params"]
    v["decoder"]["Dense_0"] = {"kernel": W.T, "bias": MU}
    log_std = -0.5 * np.log(np.diag(lam))
    kernel = np.zeros((5, 4))
    kernel[:, :2] = a.T
    v["encoder"]["Dense_0"] = {"kernel": kernel, "bias": np.concatenate([-MU @ a.T, _raw(log_std)])}
    return _f64(p)


def _exact_coupling_params(model):
    """The exact, full-covariance posterior ``N(m(x), Lambda^-1)`` as a base Gaussian and one affine
    coupling: ``z2 = z2' + c z1`` with ``c = L21 / L11`` (``L`` the Cholesky factor)."""
    a, cov, _ = _posterior_map()
    chol = np.linalg.cholesky(cov)
    c = chol[1, 0] / chol[0, 0]
    p = jax.tree_util.tree_map(np.asarray, jax.jit(model.init)(jax.random.key(0), {"x": np.zeros((2, 5))}))
    v = p["vae"]["params"]
    v["decoder"]["Dense_0"] = {"kernel": W.T, "bias": MU}
    base_map = np.stack([a[0], a[1] - c * a[0]])  # base mean [2, 5] (x - mu)
    kernel = np.zeros((5, 5))
    kernel[:, :2] = base_map.T
    bias = np.concatenate([-MU @ base_map.T, _raw(np.log([chol[0, 0], chol[1, 1]])), [0.0]])
    v["encoder"]["Dense_0"] = {"kernel": kernel, "bias": bias}
    # conditioner input [z1, context] -> [shift, raw log-scale] of z2
    v["flow"]["layers_0"]["conditioner"]["MLP_0"]["Dense_0"] = {"kernel": np.array([[c, 0.0], [0.0, 0.0]]),
                                                                "bias": np.zeros(2)}
    return _f64(p)


# The closed forms, compiled once each (eager dispatch of their small ops costs more than the maths).
_log_marginal, _posterior, _elbo, _mean_field_gap = (jax.jit(f) for f in (lg.log_marginal, lg.posterior, lg.elbo,
                                                                          lg.mean_field_gap))


@pytest.fixture(scope="module")
def x64():
    with jax.enable_x64(True):
        yield


def test_exact_posterior_makes_every_importance_weight_log_p_x(x64):
    # With the exact posterior, log p(x, z) - log q(z | x) = log p(x) for every draw: the one-draw
    # ELBO and every IWAE bound equal log p(x).
    model = _linear_vae("coupling")
    params = _exact_coupling_params(model)
    x = jnp.asarray(_data(64, seed=1))
    exact = _log_marginal(x, jnp.asarray(W), jnp.asarray(MU), S2)
    lw = jax.jit(jax.vmap(model.log_weights, in_axes=(None, None, 0)))(params, x, jax.random.split(jax.random.key(0), 3))
    np.testing.assert_allclose(lw, jnp.broadcast_to(exact, lw.shape), atol=1e-5, rtol=0)
    # The closed-form ELBO with the posterior's (full) covariance is log p(x) too: checked through
    # the mean-field formula below, whose gap vanishes when W^T W is diagonal.
    w_orth = np.array([[1.0, 0.0], [0.0, 0.6], [0.0, 0.8], [0.0, 0.0], [0.0, 0.0]])
    lam = np.diag(w_orth.T @ w_orth / S2 + 1.0)
    m, _ = _posterior(x, jnp.asarray(w_orth), jnp.asarray(MU), S2)
    elbo = _elbo(x, jnp.asarray(w_orth), jnp.asarray(MU), S2, m, jnp.asarray(-0.5 * np.log(lam)))
    np.testing.assert_allclose(elbo, _log_marginal(x, jnp.asarray(w_orth), jnp.asarray(MU), S2), atol=1e-5, rtol=0)


def test_mean_field_gap_formula_and_the_models_elbo(mean_field):
    x = jnp.asarray(_data(64, seed=2))
    exact = _log_marginal(x, jnp.asarray(W), jnp.asarray(MU), S2)
    _, _, lam = _posterior_map()
    m, _ = _posterior(x, jnp.asarray(W), jnp.asarray(MU), S2)
    log_std = jnp.broadcast_to(jnp.asarray(-0.5 * np.log(np.diag(lam))), m.shape)
    gap = float(_mean_field_gap(jnp.asarray(W), S2))
    assert gap == pytest.approx(0.5 * (np.sum(np.log(np.diag(lam))) - np.linalg.slogdet(lam)[1]), abs=1e-12)
    assert 0.2 < gap < 0.25
    np.testing.assert_allclose(exact - _elbo(x, jnp.asarray(W), jnp.asarray(MU), S2, m, log_std), gap, atol=1e-5)
    # A perturbed diagonal posterior is worse than the best one.
    assert np.all(_elbo(x, jnp.asarray(W), jnp.asarray(MU), S2, m + 0.1, log_std) < exact - gap)
    # The model's one-draw ELBO (reconstruction minus analytic KL) is unbiased for the closed form.
    model, params = mean_field
    draws = jax.jit(jax.vmap(model.elbo, in_axes=(None, None, 0)))(params, x, jax.random.split(jax.random.key(0), 200))
    per_x = np.asarray(draws.mean(0))
    se = np.asarray(draws.std(0)) / math.sqrt(200)
    closed = np.asarray(exact - gap)
    assert abs(per_x.mean() - closed.mean()) < 3 * np.sqrt(np.mean(se**2) / 64)
    assert np.all(np.abs(per_x - closed) < 4.5 * se), np.max(np.abs(per_x - closed) / se)


@pytest.fixture(scope="module")
def mean_field(x64):
    """The linear VAE holding the pPCA model and its best mean-field posterior, shared (one compile of init)."""
    model = _linear_vae()
    return model, _mean_field_params(model)


KEY = jax.random.key(11)


@pytest.fixture(scope="module")
def iwae_weights(mean_field):
    """1000 importance weights of 2000 pPCA draws, draw ``k`` from ``fold_in(KEY, k)`` as ``iwae`` draws
    them: the bound of every K is a logsumexp of the first K (one compiled program for all K)."""
    model, params = mean_field
    x = jnp.asarray(_data(2000, seed=3))
    keys = jax.vmap(lambda i: jax.random.fold_in(KEY, i))(jnp.arange(1000))
    weights = jax.jit(jax.vmap(model.log_weights, in_axes=(None, None, 0)))(params, x, keys)  # [1000, 2000]
    exact = np.asarray(_log_marginal(x, jnp.asarray(W), jnp.asarray(MU), S2))
    return model, params, x, np.asarray(weights), exact


def _bound(weights, k):
    top = weights[:k].max(0)
    return top + np.log(np.mean(np.exp(weights[:k] - top), 0))


def test_iwae_gap_shrinks_with_k_to_the_stated_values(iwae_weights):
    _, _, _, weights, exact = iwae_weights
    gaps = {}
    for k in (1, 5, 50, 1000):
        gap = exact - _bound(weights, k)
        gaps[k] = (gap.mean(), gap.std() / math.sqrt(gap.size))
    mf = float(_mean_field_gap(jnp.asarray(W), S2))
    assert abs(gaps[1][0] - mf) < 3 * gaps[1][1]  # K = 1 is the ELBO: its gap is the mean-field gap
    stated = {1: 0.22, 5: 0.08, 50: 0.02, 1000: 0.003}
    for k, value in stated.items():
        mean, se = gaps[k]
        assert abs(mean - value) < 3 * se + 0.15 * value, (k, mean, se)
        assert mean > -3 * se  # a lower bound
    ks = sorted(gaps)
    for small, large in zip(ks, ks[1:]):
        (g0, s0), (g1, s1) = gaps[small], gaps[large]
        assert g0 - g1 > 3 * math.hypot(s0, s1), (small, large, gaps)


def test_iwae_is_the_logsumexp_of_its_weights_whatever_the_chunking(iwae_weights):
    # K = 1000 in the model's chunks of 250 and K = 50 in chunks of 7 (the last one padded).
    model, params, x, weights, _ = iwae_weights
    bounds = jax.jit(lambda p, x: (model.iwae(p, x, KEY, 1000), model.iwae(p, x, KEY, 50, chunk_size=7)))
    k1000, k50 = bounds(params, x)
    np.testing.assert_allclose(k1000, _bound(weights, 1000), atol=1e-9, rtol=0)
    np.testing.assert_allclose(k50, _bound(weights, 50), atol=1e-9, rtol=0)


def _fit(model, params, loss, steps, lr, trainable):
    """Adam on ``loss(params, key)`` with cosine decay, updating the groups of ``params["vae"]["params"]``
    named in ``trainable`` (a ``lax.scan``, one compile)."""
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=1e-3))
    opt = tx.init(params)

    def mask(p):
        return jax.tree_util.tree_map_with_path(
            lambda path, _: any(getattr(k, "key", None) in trainable for k in path), p)

    def body(carry, i):
        p, o = carry
        g = jax.grad(loss)(p, jax.random.fold_in(jax.random.key(123), i))
        # Adam moves a parameter whose gradient is always 0 by exactly 0: the others stay fixed.
        g = jax.tree_util.tree_map(lambda gi, m: gi if m else jnp.zeros_like(gi), g, mask(g))
        upd, o = tx.update(g, o, p)
        return (optax.apply_updates(p, upd), o), None

    (params, _), _ = jax.jit(lambda c: jax.lax.scan(body, c, jnp.arange(steps)))((params, opt))
    return params


@pytest.mark.slow
def test_iaf_posterior_closes_the_mean_field_gap(x64):
    # Posterior only (the decoder is the true model): an affine IAF over the diagonal base
    # Gaussian can represent the correlated exact posterior; trained on the ELBO of pPCA data its
    # gap log p(x) - ELBO falls from the mean-field 0.228 to below 1e-3.
    model = _linear_vae("iaf", flow_hidden=(16,))
    params = _mean_field_params(_linear_vae())
    init = jax.tree_util.tree_map(np.asarray, jax.jit(model.init)(jax.random.key(1), {"x": np.zeros((2, 5))}))
    init["vae"]["params"]["decoder"] = jax.tree_util.tree_map(np.asarray, params["vae"]["params"]["decoder"])
    enc = np.zeros((5, 5))
    enc[:, :4] = params["vae"]["params"]["encoder"]["Dense_0"]["kernel"]
    init["vae"]["params"]["encoder"]["Dense_0"] = {
        "kernel": enc, "bias": np.concatenate([params["vae"]["params"]["encoder"]["Dense_0"]["bias"], [0.0]])}
    params = _f64(init)
    x = jnp.asarray(_data(256, seed=4))

    def loss(p, key):
        keys = jax.random.split(key, 8)
        return -jnp.mean(jax.vmap(lambda k: model.elbo(p, x, k))(keys))

    params = _fit(model, params, loss, 3000, 3e-3, ("encoder", "flow"))
    exact = _log_marginal(x, jnp.asarray(W), jnp.asarray(MU), S2)
    draws = exact - jax.jit(jax.vmap(model.elbo, in_axes=(None, None, 0)))(params, x, jax.random.split(jax.random.key(9), 50))
    gap, se = float(draws.mean()), float(draws.std() / math.sqrt(draws.size))
    print(f"IAF posterior: log p(x) - ELBO = {gap:.2e} +- {se:.1e} (mean-field {float(_mean_field_gap(jnp.asarray(W), S2)):.3f})")
    assert gap < 1e-3 and gap > -3 * se, (gap, se)


@pytest.mark.slow
def test_linear_vae_reaches_the_ppca_maximum_likelihood(x64):
    # A linear VAE (linear encoder and decoder, learned isotropic noise) trained on the ELBO of
    # pPCA data reaches Tipping & Bishop's maximum log-likelihood within 0.02 nats per example,
    # both in its exact marginal likelihood and in its ELBO (tight at the optimum: the VAE picks
    # the rotation of W whose posterior is diagonal).
    x_np = _data(2000, seed=5)
    ml = lg.maximum_likelihood(x_np, 2)
    model = _linear_vae(scale="shared", std=1.0)
    params = _f64(model.init(jax.random.key(2), {"x": np.zeros((2, 5))}))
    x = jnp.asarray(x_np)

    def loss(p, key):
        return -jnp.mean(model.elbo(p, x, key))

    params = _fit(model, params, loss, 4000, 2e-2, ("encoder", "decoder", "head"))
    dec = params["vae"]["params"]["decoder"]["Dense_0"]
    log_std = params["vae"]["params"]["head"]["log_std"]
    s2 = float(jnp.exp(2.0 * soft_clamp(log_std, Gaussian("shared", 1.0).max_log_std)))
    ll = float(jnp.mean(_log_marginal(x, dec["kernel"].T, dec["bias"], s2)))
    mean, q_log_std = model.encode(params, x)
    elbo = float(jnp.mean(_elbo(x, dec["kernel"].T, dec["bias"], s2, mean, q_log_std)))
    print(f"linear VAE: log p {ll:.4f}, ELBO {elbo:.4f}, pPCA maximum likelihood {ml['log_likelihood']:.4f}")
    assert abs(ll - ml["log_likelihood"]) < 0.02, (ll, ml["log_likelihood"])
    assert abs(elbo - ml["log_likelihood"]) < 0.02, (elbo, ml["log_likelihood"])
