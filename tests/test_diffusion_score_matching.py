"""Score matching and Langevin MCMC: minimisers and invariances with closed-form answers."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.diffusion import (
    VESDE,
    VPSDE,
    DenoisingLoss,
    Diffusion,
    DiscreteTimes,
    GaussianData,
    Langevin,
    SamplingProblem,
    ScorePrediction,
    SigmaSquaredWeighting,
    explicit_score_matching,
    implicit_score_matching,
    langevin,
    parse_sampler,
    sample_chain,
    sliced_score_matching,
)

MU = np.array([1.0, -0.5])
SIGMA = np.array([[0.5, 0.2], [0.2, 0.3]])
LEVELS = (0.1, 0.4, 0.8)


class LinearPerLevel(nn.Module):
    """``score(x, t_k) = A_k x + b_k``, one affine map per training time: linear in its params."""

    levels: tuple

    @nn.compact
    def __call__(self, x, t, label=None):
        k = len(self.levels)
        a = self.param("A", nn.initializers.zeros, (k, x.shape[-1], x.shape[-1]), x.dtype)
        b = self.param("b", nn.initializers.zeros, (k, x.shape[-1]), x.dtype)
        idx = jnp.argmin(jnp.abs(t[:, None] - jnp.asarray(self.levels)[None, :]), axis=-1)
        return jnp.einsum("nij,nj->ni", a[idx], x) + b[idx]


def test_denoising_score_matching_is_minimised_by_the_true_score():
    """The DSM loss of a linear-per-level score model is quadratic in its parameters; its exact
    minimiser (one Newton step) on Gaussian data is the marginal score at each level."""
    sde = VPSDE()
    with jax.enable_x64(True):
        data = GaussianData(jnp.asarray(MU), jnp.asarray(SIGMA))
        model = Diffusion(LinearPerLevel(LEVELS), (2,), sde=sde, times=DiscreteTimes(LEVELS),
                          prediction=ScorePrediction(), objective=DenoisingLoss(SigmaSquaredWeighting()),
                          default_sampler="ddim@2")
        batch = {"x": data.sample(jax.random.key(0), 100_000)}
        params = model.init(jax.random.key(1), batch)
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        loss = lambda p: model.loss(unravel(p), batch, jax.random.key(2))[0]  # noqa: E731
        grad_fn = jax.jit(jax.grad(loss))
        hess = jax.jit(jax.hessian(loss))(flat)
        best_flat = flat - jnp.linalg.solve(hess, grad_fn(flat))
        assert float(jnp.linalg.norm(grad_fn(best_flat))) < 1e-8
        best = unravel(best_flat)
        for k, t in enumerate(LEVELS):
            mean, cov = data.marginal(sde, t)
            prec = jnp.linalg.inv(cov)
            a, b = best["params"]["A"][k], best["params"]["b"][k]
            # sampling error of 100k draws: below 1e-2 relative to the entries of the precision
            np.testing.assert_allclose(a, -prec, atol=0.03 * float(jnp.max(jnp.abs(prec))))
            np.testing.assert_allclose(b, prec @ mean, atol=0.03 * float(jnp.max(jnp.abs(prec))))


def test_sliced_and_implicit_score_matching_equal_the_explicit_objective_up_to_a_constant():
    """E[1/2 |s - grad log p|^2] = E[tr(ds/dx) + 1/2 |s|^2] + 1/2 E|grad log p|^2, and the last is
    tr(Sigma^-1) for Gaussian data, whatever the model s; sliced SM estimates the middle term."""
    with jax.enable_x64(True):
        data = GaussianData(jnp.asarray(MU), jnp.asarray(SIGMA))
        n = 100_000
        x = data.sample(jax.random.key(3), n)
        true = -jnp.linalg.solve(data.cov, (x - data.mean).T).T
        const = 0.5 * float(jnp.trace(jnp.linalg.inv(data.cov)))
        keys = jax.random.split(jax.random.key(4), 3)
        for i, key in enumerate(keys):
            ka, kb, kv = jax.random.split(key, 3)
            a = jax.random.normal(ka, (2, 2))
            b = jax.random.normal(kb, (2,))
            score_fn = lambda y: jnp.tanh(y @ a.T) + b  # noqa: E731  (nonlinear: a real Jacobian)
            esm = explicit_score_matching(score_fn, true, x)
            ism = implicit_score_matching(score_fn, x)
            v = jax.random.normal(kv, x.shape)
            for vr in (False, True):
                ssm = sliced_score_matching(score_fn, x, v, variance_reduced=vr)
                diff = esm - ssm
                se = float(jnp.std(diff)) / np.sqrt(n)
                assert abs(float(jnp.mean(diff)) - const) < 4 * se + 1e-3, (i, vr)
            diff = esm - ism
            assert abs(float(jnp.mean(diff)) - const) < 4 * float(jnp.std(diff)) / np.sqrt(n) + 1e-3
        # the variance-reduced form has the lower variance
        ssm_plain = sliced_score_matching(score_fn, x, v, variance_reduced=False)
        ssm_vr = sliced_score_matching(score_fn, x, v, variance_reduced=True)
        assert float(jnp.var(ssm_vr)) < float(jnp.var(ssm_plain))


def test_langevin_stationary_laws():
    """For N(0, 1) and step h, ULA's stationary variance is 1 / (1 - h/4); MALA's is exactly 1."""
    h, chains, steps = 1.0, 20_000, 150
    x0 = jax.random.normal(jax.random.key(5), (chains, 1))
    ula = Langevin(h, score_fn=lambda x: -x)
    mala = Langevin(h, energy_fn=lambda x: 0.5 * jnp.sum(x**2, -1), adjusted=True)
    run = jax.jit(lambda s, k: langevin(k, x0, s, steps), static_argnums=0)
    x_ula, stats_ula = run(ula, jax.random.key(6))
    x_mala, stats_mala = run(mala, jax.random.key(7))
    se = np.sqrt(2.0 / chains) * 1.4
    assert float(jnp.var(x_ula)) == pytest.approx(1.0 / (1.0 - h / 4), abs=4 * se)
    assert float(jnp.var(x_mala)) == pytest.approx(1.0, abs=4 * se)
    assert float(jnp.mean(stats_ula["accept_rate"])) == 1.0
    assert 0.3 < float(jnp.mean(stats_mala["accept_rate"])) < 1.0


def test_annealed_langevin_with_the_exact_score_reaches_the_data():
    """NCSN's sampler on its VE noise levels, driven by the exact score of Gaussian data."""
    sde = VESDE(0.01, 3.0)
    data = GaussianData(jnp.asarray(MU, jnp.float32), jnp.asarray(SIGMA, jnp.float32))
    times = DiscreteTimes.uniform(10, include_zero=True)
    problem = SamplingProblem(sde, lambda x, t: data.eps(x, sde, t), times, data_time=0.0, t_min=0.0)
    n = 4000
    x, stats = jax.jit(lambda k: sample_chain(problem, parse_sampler("ald@200:eps=1e-4"), k, n, (2,)))(jax.random.key(8))
    assert int(stats["nfe"]) == 10 * 201 + 1
    mean, cov = (np.asarray(a, np.float64) for a in data.marginal(sde, 0.0))
    x = np.asarray(x, np.float64)
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), 4 * np.sqrt(np.diag(cov) / n) + 0.01)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05)


def test_predictions_are_one_quantity_in_different_units():
    """eps, x0, v and score predictions of the same estimate: each target maps back to the true
    noise, and the score-space weighting makes their errors one denoising score matching loss."""
    from genjax.diffusion import PREDICTIONS, WEIGHTINGS

    with jax.enable_x64(True):
        k1, k2, k3 = jax.random.split(jax.random.key(9), 3)
        x0, eps, eps_hat = (jax.random.normal(k, (5, 3)) for k in (k1, k2, k3))
        model = type("M", (), {"sde": VESDE(0.01, 50.0)})()  # only the weighting's g(t) is read
        for m, s in ((0.8, 0.6), (0.05, 0.999), (1.0, 3.0)):  # VP-like and VE-like (m, s)
            xt = m * x0 + s * eps
            x0_hat = (xt - s * eps_hat) / m
            outputs = {"eps": eps_hat, "x0": x0_hat, "v": m * eps_hat - s * x0_hat, "score": -eps_hat / s}
            losses = []
            for name, pred in PREDICTIONS.items():
                np.testing.assert_allclose(pred.to_eps(pred.target(x0, eps, m, s), xt, m, s), eps, rtol=1e-10)
                np.testing.assert_allclose(pred.to_eps(outputs[name], xt, m, s), eps_hat, rtol=1e-10)
                model.prediction = pred
                weight = WEIGHTINGS["sigma2"](model, jnp.asarray(0.5), m, s)
                losses.append(weight * jnp.sum((outputs[name] - pred.target(x0, eps, m, s)) ** 2))
            # lambda = s^2 in score units is the squared error of the noise estimate
            np.testing.assert_allclose(losses, float(jnp.sum((eps_hat - eps) ** 2)), rtol=1e-10)
            # the likelihood weighting lambda = g^2 is g^2 / s^2 on the noise error
            model.prediction = PREDICTIONS["eps"]
            g = model.sde.diffusion(jnp.asarray(0.5))
            np.testing.assert_allclose(WEIGHTINGS["likelihood"](model, jnp.asarray(0.5), m, s), g**2 / s**2, rtol=1e-12)


class Extrapolating(nn.Module):
    """``out = c x``: the linear growth a trained network can show far from its data."""

    c: float = 3.0

    @nn.compact
    def __call__(self, x, t, label=None):
        return self.c * x


def test_bounded_x0_prediction_is_the_eps_prediction_with_its_clean_estimate_kept_in_a_box():
    """The implied ``x0_hat = (x - s eps_hat) / m`` is the clip of the network's own implied
    ``(x - s out) / m``: unchanged (so ``eps_hat = out``) where that lies within
    ``bound - width``, never beyond ``bound`` for any output, continuous and monotone across the
    knee; the loss residual is ``eps_hat - eps`` with the eps-prediction's score scale."""
    from genjax.diffusion import BoundedX0Prediction, EpsPrediction

    with jax.enable_x64(True):
        k1, k2, k3 = jax.random.split(jax.random.key(4), 3)
        pred = BoundedX0Prediction(1.5, 0.25)
        x0 = jax.random.uniform(k1, (400, 4), minval=-1.25, maxval=1.25)  # inside the identity range
        eps = jax.random.normal(k2, (400, 4))
        delta = 2.0 * jax.random.normal(k3, (400, 4))
        for m, s in ((0.999, 0.045), (0.6, 0.8), (0.01, 0.99995)):
            xt = m * x0 + s * eps
            out = eps + m / s * delta  # implied x0 = x0 - delta: inside the box and far outside
            eps_hat = pred.to_eps(out, xt, m, s)
            x0_hat = (xt - s * eps_hat) / m
            raw = (xt - s * out) / m
            np.testing.assert_allclose(x0_hat, pred.clip(raw), rtol=1e-9, atol=1e-12)
            assert float(jnp.max(jnp.abs(x0_hat))) < 1.5 * (1 + 1e-12)
            inside = jnp.abs(raw) <= 1.25
            assert 0 < int(inside.sum()) < inside.size  # both regimes occur
            np.testing.assert_allclose(jnp.where(inside, eps_hat, out), out, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(pred.error(out, xt, x0, eps, m, s), eps_hat - eps, rtol=1e-12)
            np.testing.assert_allclose(pred.error(eps, xt, x0, eps, m, s), 0.0, atol=1e-9)  # exact eps: no loss
            np.testing.assert_allclose(pred.score_scale(m, s), EpsPrediction().score_scale(m, s))
        z = jnp.linspace(-3.0, 3.0, 60_001)  # tanh saturates in float64 beyond this
        c = pred.clip(z)
        assert float(jnp.min(jnp.diff(c))) > 0  # strictly increasing
        assert float(jnp.max(jnp.abs(jnp.diff(c)))) <= float(z[1] - z[0]) * (1 + 1e-9)  # 1-Lipschitz, no jump
        np.testing.assert_allclose(jax.vmap(jax.grad(pred.clip))(jnp.asarray([1.25, 1.2500001, -1.3])),
                                   [1.0, 1.0, 1 - np.tanh(0.05 / 0.25) ** 2], rtol=1e-6)


def test_bounded_x0_keeps_the_probability_flow_field_of_bounded_data_far_from_it():
    """With a network that grows linearly in ``x``, the VP probability-flow velocity
    ``f - g^2 score / 2`` of the bounded prediction is ``beta m (m x - x0_hat) / (2 s^2)``: within
    ``beta m b / (2 s^2)`` per coordinate of the exact field of data at a point inside the box,
    at any ``|x|``; the plain eps-prediction of the same network departs from it in proportion
    to ``|x|``."""
    from genjax.diffusion import BoundedX0Prediction, EpsPrediction

    sde = VPSDE()
    bound = 1.1
    with jax.enable_x64(True):
        x = 1e4 * jax.random.normal(jax.random.key(5), (8, 3))
        a = jnp.asarray([0.5, -1.0, 0.0])  # a point in [-1, 1]^3
        for pred, bounded in ((BoundedX0Prediction(bound, 0.1), True), (EpsPrediction(), False)):
            model = Diffusion(Extrapolating(), (3,), sde=sde, prediction=pred)
            params = model.init(jax.random.key(0), {"x": x})
            velocity = sde.reverse(lambda y, t: model.score(params, y, t), probability_flow=True).drift
            for t in (0.05, 0.3, 0.6, 0.95):
                m, s = (float(v) for v in sde.marginal(jnp.asarray(t)))
                beta = float(sde.schedule.beta(jnp.asarray(t)))
                v = velocity(x, jnp.full((8,), t))
                exact_point = 0.5 * beta * m * (m * x - a) / s**2  # data = the point a
                gap = jnp.max(jnp.abs(v - exact_point))
                if bounded:
                    x0_hat = pred.clip((x - s * 3.0 * x) / m)
                    np.testing.assert_allclose(v, 0.5 * beta * m * (m * x - x0_hat) / s**2, rtol=1e-9)
                    assert float(gap) <= beta * m * bound / s**2 * (1 + 1e-9)
                else:
                    assert float(gap) > 100 * beta * m * bound / s**2
