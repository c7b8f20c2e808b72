"""Transport properties, checked on Gaussians where the answers are known in closed form.

Source N(0, I), target N(m, S) in 2-D. The marginal velocity of an affine path with the
independent coupling is linear in x (``genjax.flow_matching.gaussian``), so a ``LinearVelocity``
net can represent it exactly and trains in seconds.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.ode import ODESolverConfig, odeint
from genjax.flow_matching import (
    ExactOTCoupling,
    FlowMatching,
    LinearPath,
    LinearVelocity,
    PairsCoupling,
    VPCosinePath,
    gaussian_marginal_velocity,
    gaussian_velocity_gain,
    generate_pairs,
)
from genjax.metrics import gaussian_w2

MEAN = np.array([2.0, -1.0])
COV = np.array([[2.0, 0.6], [0.6, 0.5]])
CHOL = np.linalg.cholesky(COV)


def _target(key, n):
    return {"x": jnp.asarray(MEAN, jnp.float32) + jax.random.normal(key, (n, 2)) @ jnp.asarray(CHOL.T, jnp.float32)}


def _fit(model, steps=1500, batch=1024, lr=3e-2, seed=0, sample=_target):
    key = jax.random.key(seed)
    params = model.init(key, sample(key, batch))
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.01))

    @jax.jit
    def run(params):
        def step(carry, i):
            p, opt = carry
            k = jax.random.fold_in(key, i)
            data = sample(jax.random.fold_in(k, 0), batch)
            grads = jax.grad(lambda q: model.loss(q, data, jax.random.fold_in(k, 1))[0])(p)
            updates, opt = tx.update(grads, opt, p)
            return (optax.apply_updates(p, updates), opt), None

        return jax.lax.scan(step, (params, tx.init(params)), jnp.arange(steps))[0][0]

    return run(params)


def _linear_model(**kw):
    return FlowMatching(LinearVelocity(hidden=(64, 64), time_dim=16), (2,),
                        solver=ODESolverConfig("tsit5", rtol=1e-6, atol=1e-6), **kw)


def _moments(x):
    x = np.asarray(x, np.float64)
    return x.mean(0), np.cov(x.T)


@pytest.fixture(scope="module")
def icfm():
    model = _linear_model()
    return model, _fit(model)


@pytest.mark.parametrize("path", [LinearPath(), VPCosinePath()], ids=["linear", "vp_cosine"])
def test_closed_form_marginal_velocity_transports_the_gaussian_exactly(path):
    """Mean and covariance ODEs of the closed-form field: N(0, I) -> N(alpha m, alpha^2 S + sigma^2 I)."""
    with jax.enable_x64(True):
        mean, cov = jnp.asarray(MEAN), jnp.asarray(COV)

        def moments_field(t, state, _):
            mu, c = state
            a, b = gaussian_velocity_gain(path, t, mean, cov)
            return a @ mu + b, a @ c + c @ a.T

        cfg = ODESolverConfig("tsit5", rtol=1e-10, atol=1e-10)
        ts = jnp.array([0.25, 0.5, 1.0])
        (mus, covs), _ = odeint(moments_field, (jnp.zeros(2), jnp.eye(2)), 0.0, 1.0, cfg, save_ts=ts)
        for t, mu, c in zip(ts, mus, covs):
            alpha, sigma, _, _ = path.coefficients(t)
            np.testing.assert_allclose(mu, alpha * mean, atol=1e-7)
            np.testing.assert_allclose(c, alpha**2 * cov + sigma**2 * jnp.eye(2), atol=1e-7)
        # the closed form is E[u | x_t]: equal to a kernel regression of u on x_t within its noise
        k0, k1, kt = jax.random.split(jax.random.key(0), 3)
        n = 50_000
        x0 = jax.random.normal(k0, (n, 2), jnp.float64)
        x1 = mean + jax.random.normal(k1, (n, 2), jnp.float64) @ jnp.asarray(CHOL).T
        t = 0.6
        xt = path.sample(x0, x1, jnp.full((n,), t))
        u = path.velocity(x0, x1, jnp.full((n,), t))
        feats = jnp.concatenate([xt, jnp.ones((n, 1))], axis=1)  # least squares of u on (x_t, 1)
        coef = jnp.linalg.lstsq(feats, u)[0]
        a, b = gaussian_velocity_gain(path, t, mean, cov)
        np.testing.assert_allclose(coef[:2].T, a, atol=0.03)
        np.testing.assert_allclose(coef[2], b, atol=0.03)


def test_trained_linear_field_matches_the_closed_form_and_transports_the_moments(icfm):
    model, params = icfm
    mean, cov = jnp.asarray(MEAN, jnp.float32), jnp.asarray(COV, jnp.float32)
    for t in (0.1, 0.5, 0.9):
        # the relative L2(p_t) error, p_t = N(t m, t^2 S + (1 - t)^2 I) the marginal at time t
        marginal_chol = jnp.linalg.cholesky(t**2 * cov + (1 - t) ** 2 * jnp.eye(2))
        x = t * mean + jax.random.normal(jax.random.key(1), (4096, 2)) @ marginal_chol.T
        exact = gaussian_marginal_velocity(LinearPath(), x, t, mean, cov)
        error = jnp.sqrt(jnp.mean((model.velocity(params, x, t) - exact) ** 2) / jnp.mean(exact**2))
        assert float(error) < 0.05, (t, float(error))
    x1 = jax.jit(lambda p: model.sample(p, jax.random.key(2), 20_000))(params)
    mean, cov = _moments(x1)
    np.testing.assert_allclose(mean, MEAN, atol=0.05)
    np.testing.assert_allclose(cov, COV, atol=0.08)
    assert gaussian_w2(mean, cov, MEAN, COV) < 0.08


@pytest.mark.slow  # a host OT solve in each of the training steps
def test_minibatch_ot_lowers_the_path_energy_to_the_w2_optimum(icfm):
    model, params = icfm
    ot_model = _linear_model(coupling=ExactOTCoupling())
    ot_params = _fit(ot_model, batch=128, steps=800)
    stats = jax.jit(lambda p, k: model.path_statistics(p, k, 4000))
    energy_icfm = float(stats(params, jax.random.key(3))["path_energy"])
    energy_ot = float(stats(ot_params, jax.random.key(3))["path_energy"])
    w2sq = gaussian_w2(np.zeros(2), np.eye(2), MEAN, COV) ** 2
    # Any flow from N(0, I) to N(m, S) has energy >= W2^2 (Benamou-Brenier); OT attains it.
    assert energy_icfm > 1.05 * w2sq, (energy_icfm, w2sq)
    assert energy_ot < energy_icfm - 0.03 * w2sq, (energy_ot, energy_icfm)
    assert abs(energy_ot - w2sq) < 0.03 * w2sq, (energy_ot, w2sq)


@pytest.mark.slow  # trains a second flow on 10^4 generated pairs
def test_reflow_straightens_the_flow_and_fixes_one_step_sampling(icfm):
    model, params = icfm
    # 1-RF: one Euler step from x0 is x0 + v(x0, 0) = x0 + E[x1 - x0 | x0] = m for every x0.
    x0 = jax.random.normal(jax.random.key(4), (4000, 2))
    one_step = jax.jit(lambda p: model.sample(p, None, 4000, sampler="euler@1", x0=x0))
    before = gaussian_w2(*_moments(one_step(params)), MEAN, COV)
    np.testing.assert_allclose(before, gaussian_w2(MEAN, np.zeros((2, 2)), MEAN, COV), rtol=0.1)

    pair_x0, pair_x1 = generate_pairs(model, params, jax.random.key(5), 10_000)
    reflow = _linear_model(coupling=PairsCoupling(pair_x0, pair_x1))
    reflow_params = _fit(reflow, seed=1)
    after = gaussian_w2(*_moments(one_step(reflow_params)), MEAN, COV)
    assert after < 0.25 * before and after < 0.15, (before, after)

    stats = jax.jit(lambda p, k: model.path_statistics(p, k, 4000))
    s1 = float(stats(params, jax.random.key(6))["straightness"])
    s2 = float(stats(reflow_params, jax.random.key(6))["straightness"])
    assert s2 < 0.2 * s1, (s1, s2)


class _ClosedFormField(nn.Module):
    """The exact marginal velocity of ``path`` toward N(MEAN, COV) (no parameters)."""

    affine_path: object

    @nn.compact
    def __call__(self, x, t, label=None):
        mean, cov = jnp.asarray(MEAN, x.dtype), jnp.asarray(COV, x.dtype)
        return gaussian_marginal_velocity(self.affine_path, x, t[0], mean, cov)


@pytest.mark.parametrize("path", [LinearPath(), VPCosinePath()], ids=["linear", "vp_cosine"])
def test_log_prob_of_the_closed_form_field_is_the_target_gaussian_density(path):
    """The flow of the exact Gaussian-to-Gaussian field carries N(0, I) to N(m, S): ``log_prob``
    (the shared log-det integrator, exact trace) is that Gaussian's log-density."""
    with jax.enable_x64(True):
        model = FlowMatching(_ClosedFormField(path), (2,), path=path,
                             solver=ODESolverConfig("tsit5", rtol=1e-10, atol=1e-10))
        x = _target(jax.random.key(3), 40)["x"].astype(jnp.float64) * 1.3
        params = model.init(jax.random.key(0), {"x": x})
        expected = jax.scipy.stats.multivariate_normal.logpdf(x, jnp.asarray(MEAN), jnp.asarray(COV))
        assert model.log_prob_kind == "exact"
        np.testing.assert_allclose(jax.jit(model.log_prob)(params, x), expected, rtol=1e-7, atol=1e-7)
