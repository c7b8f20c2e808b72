"""EDM: preconditioning and loss weighting against their formulas, the rho grid, Heun / Euler
orders and the samplers' law with the exact Gaussian denoiser, the PF-ODE likelihood, and the
direct prediction conversions in float32 against float64 at the schedule's end points."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import data as gdata
from genjax.diffusion import (
    EDM_SAMPLERS,
    MODELS,
    PREDICTIONS,
    CosineLogSNR,
    Diffusion,
    EDMPreconditioning,
    EDMPrediction,
    EDMProcess,
    EpsPrediction,
    GaussianData,
    LogNormalTimes,
    ODELikelihood,
    OracleEps,
    karras_sigmas,
    parse_sampler,
)
from genjax.errors import ConfigError
from genjax.ode import ODESolverConfig

MU = np.array([0.5, -0.3])
COV = np.array([[0.6, 0.2], [0.2, 0.3]])
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def _exact_model(dtype=jnp.float64, **kw):
    data = GaussianData(jnp.asarray(MU, dtype), jnp.asarray(COV, dtype))
    sde = EDMProcess(SIGMA_MAX)
    model = Diffusion(OracleEps(data, sde), (2,), sde=sde, times=LogNormalTimes(t_min=SIGMA_MIN, t_max=SIGMA_MAX),
                      prediction=EpsPrediction(), samplers=EDM_SAMPLERS, default_sampler="edm_heun@18", **kw)
    return data, model


def _exact_flow(x, sigma_from, sigma_to):
    """The probability-flow map of N(MU, COV) data: ``x - mu`` scales by ``sqrt(lam + s^2)`` per eigenvector."""
    lam, u = np.linalg.eigh(COV)
    c = (x - MU) @ u * np.sqrt(lam + sigma_to**2) / np.sqrt(lam + sigma_from**2)
    return MU + c @ u.T


def test_preconditioning_and_loss_weighting_equal_their_formulas():
    sd = 0.7
    p = EDMPreconditioning(sd)
    with jax.enable_x64(True):
        sigma = jnp.asarray([0.002, 0.1, 0.7, 3.0, 80.0])
        np.testing.assert_allclose(p.c_skip(sigma), sd**2 / (sigma**2 + sd**2), rtol=1e-14)
        np.testing.assert_allclose(p.c_out(sigma), sigma * sd / np.sqrt(sigma**2 + sd**2), rtol=1e-14)
        np.testing.assert_allclose(p.c_in(sigma), 1 / np.sqrt(sigma**2 + sd**2), rtol=1e-14)
        np.testing.assert_allclose(p.c_noise(sigma), np.log(sigma) / 4, rtol=1e-14)
        np.testing.assert_allclose(p.loss_weight(sigma), (sigma**2 + sd**2) / (sigma * sd) ** 2, rtol=1e-14)
        # the EDM weighting makes lambda |D - x0|^2 the plain MSE of F: lambda c_out^2 = 1
        np.testing.assert_allclose(p.loss_weight(sigma) * p.c_out(sigma) ** 2, 1.0, rtol=1e-13)
        # unit-variance training targets for data of std sd: c_skip^2 sd^2 + ... (Karras et al. eq. 8)
        target_var = ((1 - p.c_skip(sigma)) ** 2 * sd**2 + p.c_skip(sigma) ** 2 * sigma**2) / p.c_out(sigma) ** 2
        np.testing.assert_allclose(target_var, 1.0, rtol=1e-13)

        # the prediction: inputs, readings and target in VE coordinates x~ = x / m, sigma = s / m
        pred = EDMPrediction(sd)
        k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
        x0, eps, out = (jax.random.normal(k, (5, 3)) for k in (k1, k2, k3))
        for m, s in ((1.0, 0.3), (1.0, 40.0), (0.8, 0.6), (0.01, 0.99995)):
            sig = s / m
            xt = m * x0 + s * eps
            x_in, t_in = pred.net_inputs(xt, jnp.zeros(5), jnp.full((5, 1), m), jnp.full((5, 1), s))
            np.testing.assert_allclose(x_in, p.c_in(sig) * xt / m, rtol=1e-13)
            np.testing.assert_allclose(t_in, np.full(5, np.log(sig) / 4), rtol=1e-13)
            d = p.c_skip(sig) * xt / m + p.c_out(sig) * out
            np.testing.assert_allclose(pred.to_x0(out, xt, m, s), d, rtol=1e-12)
            np.testing.assert_allclose(pred.to_eps(out, xt, m, s), (xt / m - d) / sig, rtol=1e-9, atol=1e-12)
            target = pred.target(x0, eps, m, s)
            np.testing.assert_allclose(pred.to_x0(target, xt, m, s), x0, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(pred.to_eps(target, xt, m, s), eps, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(pred.score_scale(m, s), pred.x0_scale(m, s) * m / s**2, rtol=1e-13)


def test_edm_loss_is_the_weighted_denoising_error_of_its_builder():
    """``model.loss`` of the registered ``edm`` model at given levels and noise is
    ``lambda(sigma) mean |D(x0 + sigma z, sigma) - x0|^2`` with D its preconditioned denoiser."""
    cfg = ml_collections.ConfigDict({"name": "edm", "hidden": (16, 16), "time_dim": 8, "sigma_data": 0.8})
    model = MODELS["edm"].build(cfg, gdata.get_dataset("moons"))
    assert isinstance(model.prediction, EDMPrediction) and model.prediction.sigma_data == 0.8
    assert model.default_sampler == "edm_heun@18" and model.log_prob_kind == "exact"
    x0 = gdata.get_dataset("moons").sample(jax.random.key(0), 64)["x"]
    params = jax.jit(model.init)(jax.random.key(1), {"x": x0})
    sigma = jnp.exp(jnp.linspace(-5.0, 4.0, 64))
    z = jax.random.normal(jax.random.key(2), x0.shape)
    total, d = jax.jit(lambda p: (model.objective.terms(model, p, x0, None, sigma, z).total,
                                  model.denoise(p, x0 + sigma[:, None] * z, sigma).x0))(params)
    lam = EDMPreconditioning(0.8).loss_weight(sigma)
    np.testing.assert_allclose(total, lam * jnp.mean((d - x0) ** 2, axis=-1), rtol=2e-4)
    # training levels are log-normal with the configured mean and std
    s = jax.jit(model.times.sample, static_argnums=1)(jax.random.key(3), 20_000)
    assert abs(float(jnp.mean(jnp.log(s))) + 1.2) < 4 * 1.2 / np.sqrt(20_000)
    assert abs(float(jnp.std(jnp.log(s))) - 1.2) < 0.03
    with pytest.raises(ConfigError, match="model.sigma_max"):
        MODELS["edm"].build(ml_collections.ConfigDict({"name": "edm", "sigma_max": 0.001}), gdata.get_dataset("moons"))
    with pytest.raises(ConfigError, match="model.sampler"):
        MODELS["edm"].build(ml_collections.ConfigDict({"name": "edm", "sampler": "edm_heun@4:churn=3"}),
                            gdata.get_dataset("moons"))


def test_rho_grid_and_sampler_specs():
    with jax.enable_x64(True):
        s = karras_sigmas(18, SIGMA_MIN, SIGMA_MAX, 7.0)
        i = np.arange(18)
        want = (SIGMA_MAX ** (1 / 7) + i / 17 * (SIGMA_MIN ** (1 / 7) - SIGMA_MAX ** (1 / 7))) ** 7
        np.testing.assert_allclose(s, want, rtol=1e-13)
        np.testing.assert_allclose(LogNormalTimes().grid(18, 0.0), np.r_[want, 0.0], rtol=1e-13)
        np.testing.assert_allclose(LogNormalTimes().grid(17, SIGMA_MIN), want, rtol=1e-13)
    heun = parse_sampler("edm_heun@18", EDM_SAMPLERS)
    sto = parse_sampler("edm_stochastic@40:churn=20:s_noise=1.0", EDM_SAMPLERS)
    assert (heun.steps, sto.steps, sto.churn, sto.s_noise) == (18, 40, 20.0, 1.0)
    # inside [s_tmin, s_tmax] each level is raised by min(churn / N, sqrt 2 - 1), outside not at all
    sig = jnp.asarray([80.0, 5.0, 0.9, 0.5, 0.005])
    gamma, _ = parse_sampler("edm_stochastic@5:churn=1:s_tmin=0.01:s_tmax=1", EDM_SAMPLERS).gammas(sig, 5)
    np.testing.assert_allclose(gamma, [0, 0, 0.2, 0.2, 0])
    gamma, _ = parse_sampler("edm_stochastic@5:churn=100:s_tmin=0:s_tmax=100", EDM_SAMPLERS).gammas(sig, 5)
    np.testing.assert_allclose(gamma, np.sqrt(2) - 1, rtol=1e-6)
    for bad in ("edm_heun@4:churn=2", "edm_stochastic@4:churn=-1", "edm_euler@4:eta=0"):
        with pytest.raises(ValueError):
            parse_sampler(bad, EDM_SAMPLERS)
    with pytest.raises(ValueError, match="unknown sampler"):
        parse_sampler("edm_heun@4")  # the other diffusion models do not take EDM's samplers


@pytest.mark.slow  # the order fit runs many step counts; the exact-denoiser sampler test keeps Heun in the default tier
def test_heun_is_second_order_and_euler_first_order_with_the_exact_denoiser():
    """Fixed ``x_T``; the reference is the exact probability-flow map from sigma_max to sigma_min
    followed by the same last step (the denoiser at sigma_min): the error left is the rho-grid
    discretisation, fitted slope 2 for Heun (2N - 1 calls) and 1 for Euler."""
    with jax.enable_x64(True):
        _, model = _exact_model()
        problem = model.problem({})
        x_T = SIGMA_MAX * jax.random.normal(jax.random.key(0), (64, 2))
        ref = problem.denoise(jnp.asarray(_exact_flow(np.asarray(x_T), SIGMA_MAX, SIGMA_MIN)), SIGMA_MIN).x0
        for name, steps, order in (("edm_heun", (16, 32, 64), 2.0), ("edm_euler", (32, 64, 128), 1.0)):
            errs, nfes = [], []
            for n in steps:
                x, stats = parse_sampler(f"{name}@{n}", EDM_SAMPLERS)(problem, jax.random.key(1), x_T)
                errs.append(float(jnp.sqrt(jnp.mean((x - ref) ** 2))))
                nfes.append(int(stats["nfe"]))
            slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
            assert abs(slope - order) < 0.15, (name, slope, errs)
            assert nfes == [2 * n - 1 if name == "edm_heun" else n for n in steps]


@pytest.mark.parametrize("spec", ["edm_heun@128", "edm_stochastic@256:churn=40:s_tmin=0.05:s_tmax=10:s_noise=1.0"])
def test_edm_samplers_with_the_exact_denoiser_reproduce_the_gaussian(spec):
    """Samples from N(0, sigma_max^2) have the mean and covariance of the exact probability-flow
    map's image of that prior (the data's N(MU, COV) up to the prior's mismatch, a mean shift of
    about |mu| sqrt(lam) / sigma_max), within Monte-Carlo error. At 128 / 256 steps the
    discretisation is far below it (at 18 Heun steps it is not: the variance comes out 10% high
    on this data)."""
    data, model = _exact_model(jnp.float32)
    n = 8000
    x, stats = jax.jit(lambda k: model.sample_with_stats({}, k, n, sampler=spec))(jax.random.key(4))
    x = np.asarray(x, np.float64)
    assert int(stats["nfe"]) == 2 * int(spec.split("@")[1].split(":")[0]) - 1
    # the exact sampler: x0 = D(A x_T + (I - A) mu, sigma_min) with A the flow from sigma_max to sigma_min
    lam, u = np.linalg.eigh(COV)
    flow = u @ np.diag(np.sqrt(lam + SIGMA_MIN**2) / np.sqrt(lam + SIGMA_MAX**2)) @ u.T
    denoise = COV @ np.linalg.inv(COV + SIGMA_MIN**2 * np.eye(2))
    gain = denoise @ flow
    mean, cov = MU - gain @ MU, SIGMA_MAX**2 * gain @ gain.T
    assert np.max(np.abs(mean - MU)) < 0.006 and np.max(np.abs(cov - COV)) < 1e-4
    se_mean = np.sqrt(np.diag(cov) / n)
    se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), 4 * se_mean)
    np.testing.assert_array_less(np.abs(np.cov(x.T) - cov), 4 * se_cov + 0.002)


@pytest.mark.slow  # an adaptive solve with exact divergence
def test_edm_pf_ode_likelihood_with_the_exact_denoiser_is_the_gaussian_density():
    """Through the shared log-det integrator (``ODELikelihood`` -> ``genjax.ode.ode_log_prob``)
    from sigma_min up to sigma_max with the prior N(0, sigma_max^2): the density of
    ``p_{sigma_min}`` but for the prior's mismatch at the transported point, which is known in
    closed form (the flow of Gaussian data is linear)."""
    with jax.enable_x64(True):
        data, model = _exact_model(likelihood=ODELikelihood(solver=ODESolverConfig(rtol=1e-8, atol=1e-8)),
                                   solver=ODESolverConfig(rtol=1e-8, atol=1e-8))
        x = data.sample(jax.random.key(5), 16)
        logp, stats = model.log_prob_with_stats({}, x)
        # the solve ends at the exact flow's image; there the prior differs from p_{sigma_max}
        x_T = jnp.asarray(_exact_flow(np.asarray(x), SIGMA_MIN, SIGMA_MAX))
        np.testing.assert_allclose(stats["prior_logp"], model.sde.prior_logp(x_T), rtol=1e-7)
        mismatch = model.sde.prior_logp(x_T) - data.log_prob(x_T, model.sde, SIGMA_MAX)
        np.testing.assert_allclose(logp - mismatch, data.log_prob(x, model.sde, SIGMA_MIN), atol=1e-6)
        assert float(jnp.max(jnp.abs(mismatch))) < 0.05


def _coefficient_terms(fn, out, x, m, s):
    """``|a out| + |b x|`` of the linear map ``fn(out, x) = a out + b x`` (float64): the scale of
    the rounding error any float32 evaluation of it from float32 inputs must make."""
    a = jax.jvp(lambda o: fn(o, x, m, s), (out,), (out,))[1]
    b = jax.jvp(lambda y: fn(out, y, m, s), (x,), (x,))[1]
    return jnp.abs(a) + jnp.abs(b)


def test_prediction_conversions_are_direct_at_the_cosine_schedules_end_points():
    """Float32 conversions of float32 (network output, x_t) at t = 0 and t = T of the cosine
    schedule (alpha or sigma = 5.5e-4), against float64 on the same inputs: every reading
    (x0, eps, score) of every prediction (eps, x0, v, score, EDM's F) is within 16 ulps of its
    own conditioning, ``|q32 - q64| <= 16 u (|a out| + |b x|)``. At t = T the clean estimate of
    the x0, v and F predictions keeps float32's precision (median relative error < 1e-6),
    while rebuilding it from their eps (``(x - s eps) / m``) loses more than three digits."""
    sched = CosineLogSNR()
    preds = {**PREDICTIONS, "edm": EDMPrediction(0.5)}
    k1, k2 = jax.random.split(jax.random.key(6))
    u = 2.0**-24
    with jax.enable_x64(True):
        x0 = jax.random.normal(k1, (4000,), jnp.float32)
        eps = jax.random.normal(k2, (4000,), jnp.float32)
        for t in (0.0, 1.0):
            m32, s32 = sched.alpha(jnp.float32(t)), sched.sigma(jnp.float32(t))
            assert m32.dtype == jnp.float32 and min(float(m32), float(s32)) < 6e-4
            m64, s64 = jnp.float64(m32), jnp.float64(s32)
            x32 = m32 * x0 + s32 * eps
            x64 = x32.astype(jnp.float64)
            for name, pred in preds.items():
                out32 = pred.target(x0.astype(jnp.float64), eps.astype(jnp.float64), m64, s64).astype(jnp.float32)
                out64 = out32.astype(jnp.float64)
                for reading in (pred.to_x0, pred.to_eps, pred.to_score):
                    q32 = reading(out32, x32, m32, s32)
                    assert q32.dtype == jnp.float32
                    err = jnp.abs(q32.astype(jnp.float64) - reading(out64, x64, m64, s64))
                    bound = 16 * u * _coefficient_terms(reading, out64, x64, m64, s64) + 1e-30
                    assert float(jnp.max(err / bound)) <= 1.0, (t, name, reading.__name__)
                if t == 1.0 and name in ("x0", "v", "edm"):
                    exact = pred.to_x0(out64, x64, m64, s64)
                    direct = jnp.median(jnp.abs(pred.to_x0(out32, x32, m32, s32) - exact) / jnp.abs(exact))
                    rebuilt = (x32 - s32 * pred.to_eps(out32, x32, m32, s32)) / m32
                    round_trip = jnp.median(jnp.abs(rebuilt - exact) / jnp.abs(exact))
                    assert float(direct) < 1e-6 and float(round_trip) > 3e-5, (name, direct, round_trip)


def test_bounded_edm_prediction_is_edm_inside_the_box_and_keeps_the_flow_field_bounded_far_out():
    """``BoundedEDMPrediction``: the same ``x0``, ``eps`` and loss residual as ``EDMPrediction``
    wherever the denoiser ``D`` lies in the identity range; ``|D| < bound`` for any output; and
    the probability-flow velocity ``(x - D) / sigma`` stays within ``bound / sigma`` per coordinate
    of ``x / sigma`` (the exact field of data at the origin) at any ``|x|``, where the unbounded
    denoiser of a network that grows with its input departs from it in proportion to ``|x|``."""
    from genjax.diffusion import BoundedEDMPrediction, EDMPrediction

    with jax.enable_x64(True):
        k1, k2, k3 = jax.random.split(jax.random.key(6), 3)
        plain, pred = EDMPrediction(0.5), BoundedEDMPrediction(0.5, bound=1.1, width=0.1)
        x0 = jax.random.uniform(k1, (400, 4), minval=-1.0, maxval=1.0)
        eps = jax.random.normal(k2, (400, 4))
        for sigma in (0.002, 0.3, 2.0, 80.0):
            x = x0 + sigma * eps
            out = plain.target(x0, eps, 1.0, sigma) + 3.0 * jax.random.normal(k3, (400, 4))
            raw = plain.to_x0(out, x, 1.0, sigma)
            inside = jnp.abs(raw) <= 1.0
            assert 0 < int(inside.sum()) < inside.size  # both regimes occur
            d = pred.to_x0(out, x, 1.0, sigma)
            assert float(jnp.max(jnp.abs(d))) <= 1.1  # tanh reaches 1 in float64 only for huge outputs
            np.testing.assert_allclose(jnp.where(inside, d, raw), raw, rtol=1e-12)
            np.testing.assert_allclose(jnp.where(inside, pred.to_eps(out, x, 1.0, sigma), 0.0),
                                       jnp.where(inside, plain.to_eps(out, x, 1.0, sigma), 0.0), rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(pred.to_eps(out, x, 1.0, sigma), (x - d) / sigma, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(jnp.where(inside, pred.error(out, x, x0, eps, 1.0, sigma), 0.0),
                                       jnp.where(inside, plain.error(out, x, x0, eps, 1.0, sigma), 0.0), atol=1e-9)
        far = 1e4 * jax.random.normal(k3, (8, 4))
        for sigma in (0.1, 1.0, 10.0):
            grow = 3.0 * plain.precond.c_in(sigma) * far  # a network output growing with its input
            for p, bounded in ((pred, True), (plain, False)):
                velocity = (far - p.to_x0(grow, far, 1.0, sigma)) / sigma
                gap = float(jnp.max(jnp.abs(velocity - far / sigma)))
                assert (gap <= 1.1 / sigma * (1 + 1e-9)) if bounded else (gap > 100 / sigma)
