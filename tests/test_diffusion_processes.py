"""Schedules and SDEs: closed-form marginals, exact-score samplers and the PF-ODE likelihood."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.ode import ODESolverConfig, ode_log_prob
from genjax.diffusion import (
    VESDE,
    VPSDE,
    ContinuousTimes,
    CosineLogSNR,
    DiscreteSchedule,
    GaussianData,
    LinearBeta,
    LinearLogSNR,
    SamplingProblem,
    Schedule,
    SubVPSDE,
    cosine_betas,
    linear_betas,
    parse_sampler,
    sample_chain,
)

MU = np.array([1.0, -0.5])
SIGMA = np.array([[0.5, 0.2], [0.2, 0.3]])


def _sdes():
    return {
        "vp": VPSDE(),
        "vp-cosine": VPSDE(CosineLogSNR()),
        "vp-discrete": VPSDE(DiscreteSchedule(linear_betas(100))),
        "subvp": SubVPSDE(),
        "ve": VESDE(0.01, 50.0),
    }


def test_schedules_are_consistent():
    with jax.enable_x64(True):
        ts = jnp.linspace(0.01, 0.99, 7)
        lin = LinearBeta()
        # the closed-form beta equals -d log alpha_bar / dt by autodiff
        np.testing.assert_allclose(Schedule.beta(lin, ts), lin.beta(ts), rtol=1e-10)
        for sched in (lin, CosineLogSNR(), LinearLogSNR()):
            np.testing.assert_allclose(sched.alpha(ts) ** 2 + sched.sigma(ts) ** 2, 1.0, rtol=1e-12)
            np.testing.assert_allclose(jnp.log(sched.alpha_bar(ts) / sched.sigma2(ts)), sched.log_snr(ts), rtol=1e-9, atol=1e-12)
        cos = CosineLogSNR(-12.0, 9.0)
        np.testing.assert_allclose([cos.log_snr(0.0), cos.log_snr(1.0)], [9.0, -12.0], rtol=1e-9)
        # a discrete schedule: abar_i = prod(1 - beta_j) on the grid i / T, betas recovered
        betas = cosine_betas(50)
        disc = DiscreteSchedule(betas)
        np.testing.assert_allclose(disc.alpha_bar(jnp.arange(51) / 50), np.cumprod(np.r_[1.0, 1 - betas]), rtol=1e-10)
        np.testing.assert_allclose(disc.to_betas(50), betas, rtol=1e-5)
        # DDPM's linear betas (T = 1000) discretise the continuous linear VP schedule: the rate
        # integrated over each step, -log(1 - beta_i), matches them to O(1/T^2)
        np.testing.assert_allclose(-np.log1p(-lin.to_betas(1000)), linear_betas(1000), atol=2e-5)


@pytest.mark.parametrize("name", list(_sdes()))
def test_marginal_solves_the_moment_equations(name):
    """For dx = f(t) x dt + g dW: m' = f m and (s^2)' = 2 f s^2 + g^2; VP/sub-VP start at (1, 0)."""
    sde = _sdes()[name]
    with jax.enable_x64(True):
        ts = jnp.array([0.0537, 0.2113, 0.4471, 0.7089, 0.9311])  # off the discrete grid
        m_fn = lambda t: sde.marginal(t)[0]  # noqa: E731
        v_fn = lambda t: sde.marginal(t)[1] ** 2  # noqa: E731
        dm = jax.vmap(jax.grad(m_fn))(ts)
        dv = jax.vmap(jax.grad(v_fn))(ts)
        f, g = sde.drift_coef(ts), sde.diffusion(ts)
        np.testing.assert_allclose(dm, f * m_fn(ts), rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(dv, 2 * f * v_fn(ts) + g**2, rtol=1e-7)
        m0, s0 = sde.marginal(0.0)
        if name == "ve":  # started at t = -inf: the variance vanishes there
            assert float(sde.marginal(-40.0)[1]) < 1e-30 and float(m0) == 1.0
        elif name == "vp-cosine":  # log-SNR clipped at logsnr_max at t = 0
            assert float(s0) ** 2 == pytest.approx(float(jax.nn.sigmoid(-sde.schedule.logsnr_max)), rel=1e-9)
        else:
            assert float(m0) == 1.0 and float(s0) == 0.0
        # prior at T matches the marginal of N(0, I) data closely
        _, s1 = sde.marginal(1.0)
        assert float(s1) == pytest.approx(sde.prior_std, rel=1e-3)


def _propagate_moments(sde, data, n):
    """Push the data's mean and covariance through n discretize() steps from t = 0 to 1."""
    mean, cov = data.marginal(sde, 0.0)

    def step(carry, t):
        mean, cov = carry
        f, G = sde.discretize(jnp.eye(2), t, 1.0 / n)  # f = a x: read a off the identity
        a = f[0, 0]
        return ((1 + a) * mean, (1 + a) ** 2 * cov + G**2 * jnp.eye(2)), None

    (mean, cov), _ = jax.lax.scan(step, (mean, cov), jnp.arange(1, n + 1) / n)
    return mean, cov


@pytest.mark.parametrize("name", ["vp", "vp-discrete", "ve"])
def test_exact_transitions_propagate_gaussian_moments_to_the_marginal(name):
    """VP (DDPM) and VE (SMLD) steps are exact transitions: N(mu, Sigma) pushed through them is the marginal."""
    sde = _sdes()[name]
    with jax.enable_x64(True):
        data = GaussianData(jnp.asarray(MU), jnp.asarray(SIGMA))
        mean, cov = _propagate_moments(sde, data, 100)
        exp_mean, exp_cov = data.marginal(sde, 1.0)
        np.testing.assert_allclose(mean, exp_mean, atol=1e-10)
        np.testing.assert_allclose(cov, exp_cov, rtol=1e-9, atol=1e-10)


def test_euler_discretisation_of_sub_vp_converges_at_first_order():
    sde = SubVPSDE()
    with jax.enable_x64(True):
        data = GaussianData(jnp.asarray(MU), jnp.asarray(SIGMA))
        _, exp_cov = data.marginal(sde, 1.0)
        steps = np.array([100, 200, 400, 800])
        errs = [float(jnp.max(jnp.abs(_propagate_moments(sde, data, int(n))[1] - exp_cov))) for n in steps]
        slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
        assert abs(slope - 1.0) < 0.1, (slope, errs)


_slow = pytest.mark.slow
# every sampler family and every process in the default tier; the full matrix in the slow tier
SAMPLER_CASES = [
    ("vp", "em@400"), ("subvp", "pc@400"), ("ve", "ode"), ("vp", "ddpm@400"), ("vp", "ddim@100"),
    pytest.param("vp", "pc@400", marks=_slow), pytest.param("vp", "ode", marks=_slow),
    pytest.param("subvp", "em@400", marks=_slow), pytest.param("subvp", "ode", marks=_slow),
    pytest.param("ve", "em@400", marks=_slow), pytest.param("ve", "pc@400", marks=_slow),
]


@pytest.mark.parametrize("name,spec", SAMPLER_CASES)
def test_exact_score_samplers_reproduce_the_gaussian(name, spec):
    sde = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(0.01, 50.0)}[name]
    data = GaussianData(jnp.asarray(MU, jnp.float32), jnp.asarray(SIGMA, jnp.float32))
    t_min = 1e-3
    problem = SamplingProblem(sde, lambda x, t: data.eps(x, sde, t), ContinuousTimes(t_min),
                              data_time=0.0 if name != "ve" else t_min, t_min=t_min,
                              solver=ODESolverConfig(rtol=1e-5, atol=1e-5))
    n = 4000
    x, _ = jax.jit(lambda k: sample_chain(problem, parse_sampler(spec), k, n, (2,)))(jax.random.key(0))
    x = np.asarray(x, np.float64)
    # the target: the marginal where the sampler stops (data convolved with a tiny Gaussian)
    end = 0.0 if spec.startswith(("ddpm", "ddim")) and name != "ve" else t_min
    mean, cov = (np.asarray(a, np.float64) for a in data.marginal(sde, end))
    se_mean = np.sqrt(np.diag(cov) / n)
    se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), 4 * se_mean + 0.01)
    np.testing.assert_array_less(np.abs(np.cov(x.T) - cov), 4 * se_cov + 0.015)


@pytest.mark.parametrize("name", ["vp", pytest.param("subvp", marks=_slow), pytest.param("ve", marks=_slow)])
def test_pf_ode_log_likelihood_with_the_exact_score_is_the_gaussian_density(name):
    sde = {"vp": VPSDE(), "subvp": SubVPSDE(), "ve": VESDE(0.01, 50.0)}[name]
    with jax.enable_x64(True):
        data = GaussianData(jnp.asarray(MU), jnp.asarray(SIGMA))
        x = data.sample(jax.random.key(1), 16)
        t0 = 1e-5
        rsde = sde.reverse(lambda y, t: data.score(y, sde, t), probability_flow=True)
        field = lambda t, y, _: rsde.drift(y, t)  # noqa: E731
        cfg = ODESolverConfig(rtol=1e-9, atol=1e-9)
        # with the exact marginal at T as the prior, only the solve's error remains
        exact_prior = lambda z: data.log_prob(z, sde, 1.0)  # noqa: E731
        logp, _, _ = ode_log_prob(field, exact_prior, x, t0, 1.0, cfg)
        np.testing.assert_allclose(logp, data.log_prob(x, sde, t0), atol=1e-6)
        # and p_{t0} is the data's density to well within 1e-3 at t0 = 1e-5
        assert float(jnp.max(jnp.abs(logp - data.log_prob(x)))) < 1e-3
        # with the SDE's own prior N(0, prior_std^2) the result moves by exactly the prior's mismatch
        # at the transported point, which is O(m(1) |mu| |x_T|) (about 1e-2 for the VP SDE)
        logp_default, xT, _ = ode_log_prob(field, sde.prior_logp, x, t0, 1.0, cfg)
        np.testing.assert_allclose(logp_default - logp, sde.prior_logp(xT) - exact_prior(xT), atol=1e-6)
