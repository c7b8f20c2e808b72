"""DDPM and DDIM: posterior formulas, DDIM's variance and inversion order, the variational bound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from genjax.diffusion import (
    VESDE,
    VPSDE,
    Affine,
    Bins,
    ContinuousTimes,
    Diffusion,
    DiscreteSchedule,
    DiscreteTimes,
    GaussianData,
    LinearBeta,
    OracleEps,
    SubVPSDE,
    VLBLikelihood,
    VLBLoss,
    ancestral_step,
    ddim_step,
    discretized_gaussian_logp,
    linear_betas,
    posterior,
)
from genjax.diffusion.ddim import step_std
from genjax.diffusion.ddpm import log_diff_ndtr

MU = np.array([1.0, -0.5])
SIGMA = np.array([[0.5, 0.2], [0.2, 0.3]])


def test_ddpm_posterior_matches_the_paper_formulas():
    """Eq. 6-7 of Ho et al. for the discrete schedule, from the betas in float64."""
    T = 1000
    betas = linear_betas(T)
    sde = VPSDE(DiscreteSchedule(betas))
    abar = np.cumprod(1 - betas)
    with jax.enable_x64(True):
        key = jax.random.key(0)
        x0, xt = jax.random.normal(key, (2, 5, 3))
        for i in (2, 10, 500, 999):  # the step x_i -> x_{i-1}, 1-based as in the paper
            beta, ab, ab_prev = betas[i - 1], abar[i - 1], abar[i - 2]
            mean_paper = np.sqrt(ab_prev) * beta / (1 - ab) * x0 + np.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab) * xt
            var_paper = (1 - ab_prev) / (1 - ab) * beta
            mean, var = posterior(sde, x0, xt, (i - 1) / T, i / T)
            np.testing.assert_allclose(mean, mean_paper, rtol=1e-9)
            np.testing.assert_allclose(var, var_paper, rtol=1e-9)


@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE(0.01, 50.0)], ids=["vp", "subvp", "ve"])
def test_posterior_is_gaussian_conditioning_of_the_joint(sde):
    """q(x_s | x_t, x0) from the joint of (x_s, x_t) given x0: Cov(x_s, x_t) = m_ts s_s^2."""
    with jax.enable_x64(True):
        x0, xt = jax.random.normal(jax.random.key(1), (2, 4, 2))
        for s, t in ((0.1, 0.35), (0.5, 0.52), (0.0, 0.3)):
            m_s, s_s = sde.marginal(s)
            m_t, s_t = sde.marginal(t)
            cross = (m_t / m_s) * s_s**2
            mean_cond = m_s * x0 + cross / s_t**2 * (xt - m_t * x0)
            var_cond = s_s**2 - cross**2 / s_t**2
            mean, var = posterior(sde, x0, xt, s, t)
            np.testing.assert_allclose(mean, mean_cond, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(var, var_cond, rtol=1e-7, atol=1e-14)


def test_ddim_with_eta_one_is_ddpm_ancestral_sampling():
    sde = VPSDE(DiscreteSchedule(linear_betas(1000)))
    with jax.enable_x64(True):
        k1, k2, k3 = jax.random.split(jax.random.key(2), 3)
        x, eps, z = (jax.random.normal(k, (6, 3)) for k in (k1, k2, k3))
        for t, s in ((0.5, 0.499), (0.9, 0.7), (0.02, 0.0)):  # one step, a strided step, the last
            _, var_post = posterior(sde, x, x, s, t)
            np.testing.assert_allclose(step_std(sde, t, s, 1.0) ** 2, var_post, rtol=1e-9, atol=1e-15)
            np.testing.assert_allclose(ddim_step(x, eps, z, sde, t, s, eta=1.0),
                                       ancestral_step(x, eps, z, sde, t, s, "small"), rtol=1e-9, atol=1e-12)
        # eta = 0 adds no noise; intermediate eta interpolates the variance as eta^2
        np.testing.assert_allclose(ddim_step(x, eps, z, sde, 0.9, 0.7, 0.0), ddim_step(x, eps, 0 * z, sde, 0.9, 0.7, 0.0))
        np.testing.assert_allclose(step_std(sde, 0.9, 0.7, 0.5) ** 2, 0.25 * step_std(sde, 0.9, 0.7, 1.0) ** 2)


def _exact_model(sde, times, data):
    return Diffusion(OracleEps(data, sde), (2,), sde=sde, times=times, default_sampler="ddim@10")


def test_ddim_inversion_error_shrinks_at_first_order():
    with jax.enable_x64(True):
        data = GaussianData(jnp.asarray(MU), jnp.asarray(SIGMA))
        sde = VPSDE(LinearBeta())
        model = _exact_model(sde, ContinuousTimes(1e-3), data)
        x0 = data.sample(jax.random.key(3), 64)
        steps = np.array([8, 16, 32, 64])
        errs = []
        for n in steps:
            z = model.encode({}, x0, steps=int(n))
            errs.append(float(jnp.sqrt(jnp.mean((model.decode({}, z, steps=int(n)) - x0) ** 2))))
        slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
        assert abs(slope - 1.0) < 0.15, (slope, errs)


def test_log_diff_ndtr_is_accurate_in_both_tails():
    a = np.array([-40.0, -12.0, -1.0, 0.5, 9.0, 30.0])
    b = a + np.array([1.0, 0.5, 2.0, 0.1, 0.5, 1.0])
    with jax.enable_x64(True):
        got = np.asarray(log_diff_ndtr(jnp.asarray(a), jnp.asarray(b)))
    # reference: the smaller tail in log space, log(Phi(b) - Phi(a)) = log(sf(a) - sf(b)) for a > 0
    with np.errstate(divide="ignore"):  # np.where evaluates both branches
        ref = np.where(
            a > 0,
            norm.logsf(a) + np.log1p(-np.exp(norm.logsf(b) - norm.logsf(a))),
            norm.logcdf(b) + np.log1p(-np.exp(norm.logcdf(a) - norm.logcdf(b))),
        )
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_discretised_decoder_is_a_distribution_over_the_bins():
    bins = Bins(lo=-1.0, width=2.0 / 17, levels=17)
    centres = bins.lo + (np.arange(17) + 0.5) * bins.width
    with jax.enable_x64(True):
        for mean, std in ((0.3, 0.05), (-0.98, 0.2), (1.4, 0.01), (0.0, 3.0)):
            x = jnp.asarray(centres)[:, None]
            logp = discretized_gaussian_logp(x, jnp.full_like(x, mean), std, bins)
            assert float(jnp.sum(jnp.exp(logp))) == pytest.approx(1.0, abs=1e-12)
            inner = 8  # an inner bin is the Gaussian mass of the bin
            lo, hi = bins.lo + inner * bins.width, bins.lo + (inner + 1) * bins.width
            assert float(jnp.exp(logp[inner])) == pytest.approx(norm.cdf(hi, mean, std) - norm.cdf(lo, mean, std), rel=1e-9)


def _isotropic_data():
    return GaussianData(jnp.asarray(MU), 0.3 * jnp.eye(2))


@pytest.mark.parametrize("variance", [pytest.param("small", marks=pytest.mark.slow), "large"])
def test_variational_bound_is_below_the_log_likelihood_and_tightens_with_more_steps(variance):
    with jax.enable_x64(True):
        data = _isotropic_data()
        x = data.sample(jax.random.key(5), 1000)
        exact = float(jnp.mean(data.log_prob(x)))
        gaps = []
        for T in (100, 1000):
            sde = VPSDE(DiscreteSchedule(linear_betas(T)))
            model = Diffusion(OracleEps(data, sde), (2,), sde=sde, times=DiscreteTimes.uniform(T),
                              likelihood=VLBLikelihood(variance), default_sampler="ddpm")
            bound = model.log_prob({}, x, jax.random.key(6))
            se = float(jnp.std(bound - data.log_prob(x))) / np.sqrt(len(x))
            gaps.append(exact - float(jnp.mean(bound)))
            assert gaps[-1] > -3 * se  # a lower bound on average
        assert gaps[1] < gaps[0]
        if variance == "large":
            # with beta as the reverse variance the bound becomes tight as T grows; with the
            # posterior's beta-tilde the first steps keep a gap that does not vanish
            assert gaps[1] < 0.05


@pytest.mark.slow
def test_vlb_training_loss_is_an_unbiased_estimate_of_the_full_bound():
    T = 40
    with jax.enable_x64(True):
        data = _isotropic_data()
        sde = VPSDE(DiscreteSchedule(linear_betas(T)))
        model = Diffusion(OracleEps(data, sde), (2,), sde=sde, times=DiscreteTimes.uniform(T),
                          objective=VLBLoss("large"), likelihood=VLBLikelihood("large"), default_sampler="ddpm")
        x = jnp.repeat(data.sample(jax.random.key(7), 4), 5000, axis=0)
        terms = model.objective(model, {}, x, None, jax.random.key(8))
        per_point = (terms.diffusion + terms.prior).reshape(4, -1)
        full = -model.log_prob({}, jnp.repeat(x[::5000], 200, axis=0), jax.random.key(9)).reshape(4, -1)
        se = np.sqrt(per_point.var(1) / per_point.shape[1] + full.var(1) / full.shape[1])
        np.testing.assert_array_less(np.abs(per_point.mean(1) - full.mean(1)), 4 * se)


def test_discrete_bound_sums_to_at_most_one_over_all_values():
    """With the discretised decoder the model is a distribution over the 17 x 17 values and
    exp(bound) <= P(v) for each, so summed over every value the bound is at most 1. (It is not
    tight: from a bin's centre q(x_1 | x_0) has variance beta_1 while the model's posterior
    over x_1 spreads over the bin; with T = 100, beta_1 = 1e-3 is near the bin's variance.)"""
    with jax.enable_x64(True):
        data = GaussianData(jnp.zeros(2), 0.3 * jnp.eye(2))
        T, draws = 100, 8
        sde = VPSDE(DiscreteSchedule(linear_betas(T)))
        tr = Affine(2.0, -1.0)  # [0, 1) -> [-1, 1)
        bins = Bins(-1.0, 2.0 / 17, 17)
        model = Diffusion(OracleEps(data, sde), (2,), sde=sde, times=DiscreteTimes.uniform(T), transform=tr,
                          likelihood=VLBLikelihood("large", bins), default_sampler="ddpm")
        v = jnp.stack(jnp.meshgrid(jnp.arange(17), jnp.arange(17)), -1).reshape(-1, 2)
        x = jnp.repeat((v + 0.5) / 17.0, draws, axis=0)  # data space; bin centres
        log_prob = model.log_prob({}, x, jax.random.key(11)).reshape(-1, draws).mean(1)  # average the bound
        log_pv = log_prob + 2 * np.log(1 / 17.0)  # density on [0, 1)^2 -> probability of the bin
        total = float(jnp.sum(jnp.exp(log_pv)))
        assert 0.5 < total <= 1.0 + 1e-3, total
