"""The shared continuous-time layer (``genjax.ode``), tested once for every family: the ODE solve
(NFE, order), the divergences (exact = trace of the Jacobian; Hutchinson unbiased for both probes),
the log-det integrator and ``ode_log_prob`` against closed forms, the SDE solve, the sampler grammar."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from genjax.nn import ConcatSquashMLP
from genjax.ode import (
    ODE_SAMPLERS,
    ODESolverConfig,
    SamplerKind,
    SamplerTable,
    SpecError,
    exact_divergence,
    hutchinson_divergence,
    integrate_with_log_det,
    ode_config,
    ode_log_prob,
    odeint,
    sample_probe,
    sdeint,
)
from genjax.ode.divergence import UNROLL_MAX_DIM


def _random_field(d, key, hidden=(16, 16)):
    net = ConcatSquashMLP(hidden)
    params = net.init(key, jnp.zeros((1, d)), jnp.zeros(()))
    return lambda x: net.apply(params, x, jnp.asarray(0.3, x.dtype))


def _counting_field(counter):
    def f(t, y, args):
        jax.debug.callback(lambda: counter.append(1))
        return -y + jnp.sin(t)

    return f


@pytest.mark.parametrize(
    "cfg",
    [
        ODESolverConfig("euler", steps=7),
        ODESolverConfig("heun", steps=5),
        ODESolverConfig("midpoint", steps=4),
        ODESolverConfig("tsit5", steps=4, fixed_grid=True),
        ODESolverConfig("tsit5", rtol=1e-6, atol=1e-6),
        ODESolverConfig("dopri5", rtol=1e-4, atol=1e-4),
    ],
    ids=lambda c: f"{c.solver}{'-adaptive' if c.adaptive else f'@{c.steps}'}",
)
def test_reported_nfe_is_the_number_of_evaluations(cfg):
    counter = []
    y, nfe = odeint(_counting_field(counter), jnp.ones(3), 0.0, 2.0, cfg)
    jax.block_until_ready(y)
    assert int(nfe) == len(counter)


def test_linear_ode_matches_closed_form_and_order():
    with jax.enable_x64(True):
        a64 = jnp.array([[-0.5, 1.0], [-1.0, -0.5]], jnp.float64)
        y64 = jnp.array([1.0, 0.5], jnp.float64)
        exact = jax.scipy.linalg.expm(a64 * 1.5) @ y64
        f = lambda t, y, _: a64 @ y  # noqa: E731
        for name, order in (("euler", 1), ("heun", 2), ("midpoint", 2)):
            steps = np.array([16, 32, 64, 128])
            errs = [float(jnp.linalg.norm(odeint(f, y64, 0.0, 1.5, ODESolverConfig(name, steps=int(n)))[0] - exact))
                    for n in steps]
            slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
            assert abs(slope - order) < 0.15, (name, slope, errs)
        y, _ = odeint(f, y64, 0.0, 1.5, ODESolverConfig("tsit5", rtol=1e-10, atol=1e-10))
        assert float(jnp.max(jnp.abs(y - exact))) < 1e-8


def test_save_ts_and_backward_integration():
    f = lambda t, y, _: -y  # noqa: E731
    ts = jnp.linspace(0.0, 1.0, 5)
    ys, _ = odeint(f, jnp.ones(2), 0.0, 1.0, ODESolverConfig("tsit5", rtol=1e-8, atol=1e-8), save_ts=ts)
    np.testing.assert_allclose(ys[:, 0], np.exp(-np.asarray(ts)), rtol=1e-5)
    back, _ = odeint(f, ys[-1], 1.0, 0.0, ODESolverConfig("tsit5", rtol=1e-8, atol=1e-8))
    np.testing.assert_allclose(back, np.ones(2), rtol=1e-5)


# -- divergences --------------------------------------------------------------------------------


class ExactDivergenceTest(chex.TestCase):
    """Jitted and eager: the divergence equals the trace of ``jax.jacobian`` (unrolled and chunked paths)."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(2, 5, UNROLL_MAX_DIM + 4)
    def test_exact_divergence_equals_trace_of_jacobian(self, d):
        _check_exact_divergence(d, self.variant(exact_divergence, static_argnums=0))


def _check_exact_divergence(d, exact):
    f = _random_field(d, jax.random.key(d))
    x = jax.random.normal(jax.random.key(1), (7, d))
    fx, div, sq_jac = exact(f, x)
    chex.assert_shape((div, sq_jac), (7,))
    jac = jax.vmap(jax.jacobian(lambda xi: f(xi[None])[0]))(x)  # [batch, d, d]
    np.testing.assert_allclose(fx, f(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(div, jnp.trace(jac, axis1=1, axis2=2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sq_jac, jnp.sum(jac**2, axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_divergence_of_an_image_shaped_field_is_that_of_the_flattened_field():
    # A field on [batch, 4, 4, 2] (32 dims: the chunked scan path) equals the flat field's.
    f_flat = _random_field(32, jax.random.key(3))
    f_img = lambda y: jnp.reshape(f_flat(jnp.reshape(y, (y.shape[0], -1))), y.shape)  # noqa: E731
    x = jax.random.normal(jax.random.key(4), (3, 4, 4, 2))
    fx, div, sq = exact_divergence(f_img, x)
    fx_flat, div_flat, sq_flat = exact_divergence(f_flat, x.reshape(3, -1))
    chex.assert_trees_all_close((fx.reshape(3, -1), div, sq), (fx_flat, div_flat, sq_flat), rtol=1e-5, atol=1e-6)
    e = sample_probe(jax.random.key(5), x.shape, "rademacher")
    chex.assert_trees_all_close(hutchinson_divergence(f_img, x, e)[1],
                                hutchinson_divergence(f_flat, x.reshape(3, -1), e.reshape(3, -1))[1], rtol=1e-5)


@pytest.mark.parametrize("probe", ["gaussian", "rademacher"])
def test_hutchinson_divergence_is_unbiased(probe):
    d, n = 6, 20_000
    f = _random_field(d, jax.random.key(0))
    x = jnp.broadcast_to(jax.random.normal(jax.random.key(1), (1, d)), (n, d))  # one point, n probes
    e = sample_probe(jax.random.key(2), x.shape, probe)
    _, est, sq_est = hutchinson_divergence(f, x, e)
    _, exact, sq_exact = exact_divergence(f, x[:1])
    for values, target in ((est, exact[0]), (sq_est, sq_exact[0])):
        se = float(jnp.std(values)) / np.sqrt(n)
        assert abs(float(jnp.mean(values)) - float(target)) < 3 * se, (float(jnp.mean(values)), float(target), se)
    if probe == "rademacher":
        assert set(np.unique(np.asarray(e)).tolist()) == {-1.0, 1.0}


def test_linear_ode_log_det_is_t_times_trace_exact_and_hutchinson():
    t1 = 0.7
    with jax.enable_x64(True):
        a = jnp.array([[-0.4, 1.3, 0.2], [-0.8, 0.3, 0.5], [0.1, -0.6, 0.9]])
        field = lambda t, x, args: x @ args.T  # noqa: E731
        x0 = jax.random.normal(jax.random.key(0), (4000, 3), jnp.float64)
        cfg = ODESolverConfig("dopri5", rtol=1e-9, atol=1e-9)
        state, _ = integrate_with_log_det(field, x0, 0.0, t1, cfg, args=a, div="exact")
        np.testing.assert_allclose(state["logdet"], t1 * jnp.trace(a), atol=1e-5)
        np.testing.assert_allclose(state["x"], x0 @ jax.scipy.linalg.expm(t1 * a).T, atol=1e-7)
        for kind in ("gaussian", "rademacher"):
            e = sample_probe(jax.random.key(1), x0.shape, kind, jnp.float64)
            state, _ = integrate_with_log_det(field, x0, 0.0, t1, cfg, args=a, div="hutchinson", probe=e)
            # One probe per example, fixed for the whole solve: each estimate is t e^T A e exactly.
            np.testing.assert_allclose(state["logdet"], t1 * jnp.einsum("bi,ij,bj->b", e, a, e), atol=1e-5)
            mean, se = float(jnp.mean(state["logdet"])), float(jnp.std(state["logdet"])) / np.sqrt(len(x0))
            assert abs(mean - t1 * float(jnp.trace(a))) < 3 * se, (kind, mean, se)


def test_ode_log_prob_of_a_linear_flow_is_the_gaussian_density():
    # dx/dt = A x carries N(0, I) at t = 0 to N(0, e^{A} e^{A^T}) at t = 1; the log-density of points
    # at t = 1, integrated back to 0, is that Gaussian's (exact trace), in both directions of time.
    with jax.enable_x64(True):
        a = jnp.array([[0.3, -0.7], [0.4, -0.2]])
        field = lambda t, x, args: x @ a.T  # noqa: E731
        std_normal = lambda z: -0.5 * jnp.sum(z**2, -1) - jnp.log(2 * jnp.pi)  # noqa: E731
        m = jax.scipy.linalg.expm(a)
        cov = m @ m.T
        x = jax.random.normal(jax.random.key(0), (50, 2), jnp.float64) * 1.5
        expected = jax.scipy.stats.multivariate_normal.logpdf(x, jnp.zeros(2), cov)
        cfg = ODESolverConfig("tsit5", rtol=1e-10, atol=1e-10)
        logp, z, nfe = ode_log_prob(field, std_normal, x, 1.0, 0.0, cfg)
        np.testing.assert_allclose(logp, expected, rtol=1e-8)
        np.testing.assert_allclose(z, x @ jnp.linalg.inv(m).T, rtol=1e-8)
        assert int(nfe) > 0
        # Hutchinson: unbiased for the same numbers.
        xs = jnp.broadcast_to(x[:1], (20_000, 2))
        est, _, _ = ode_log_prob(field, std_normal, xs, 1.0, 0.0, cfg, divergence="hutchinson",
                                 key=jax.random.key(1), probe="gaussian")
        se = float(jnp.std(est)) / np.sqrt(len(est))
        assert abs(float(jnp.mean(est)) - float(expected[0])) < 3 * se


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_sdeint_reproduces_the_ornstein_uhlenbeck_marginal(solver):
    # dX = -theta X dt + s dW from X_0 = x0: mean x0 e^{-theta t}, var s^2 (1 - e^{-2 theta t}) / (2 theta).
    theta, s, t1, x0 = 1.3, 0.8, 1.0, 2.0
    n = 40_000
    ts = jnp.linspace(0.0, t1, 201)
    x, nfe = sdeint(lambda t, y, _: -theta * y, lambda t, y, _: s, jnp.full((n, 1), x0), ts, jax.random.key(0),
                    solver=solver)
    mean, var = x0 * np.exp(-theta * t1), s**2 * (1 - np.exp(-2 * theta * t1)) / (2 * theta)
    xs = np.asarray(x[:, 0], np.float64)
    assert abs(xs.mean() - mean) < 3 * np.sqrt(var / n) + 2e-3
    assert abs(xs.var() - var) < 3 * var * np.sqrt(2 / n) + 2e-3
    assert int(nfe) == (200 if solver == "euler" else 400)


def test_sdeint_runs_backwards_saves_the_path_and_can_end_without_noise():
    ts = jnp.linspace(1.0, 0.0, 11)
    drift = lambda t, y, _: jnp.ones_like(y)  # noqa: E731  dx/dt = 1: x decreases by 1 over [1, 0]
    path, nfe = sdeint(drift, lambda t, y, _: 0.0, jnp.zeros((3, 2)), ts, jax.random.key(0), save_path=True)
    chex.assert_shape(path, (11, 3, 2))
    np.testing.assert_allclose(path[-1], -np.ones((3, 2)), atol=1e-6)
    np.testing.assert_allclose(path[:, 0, 0], -(1.0 - np.asarray(ts)), atol=1e-6)
    # noise_last=False: the last step is the drift step alone, so two keys give the same last increment.
    a, _ = sdeint(drift, lambda t, y, _: 1.0, jnp.zeros((2, 1)), ts, jax.random.key(1), noise_last=False, save_path=True)
    np.testing.assert_allclose(a[-1] - a[-2], -0.1 * np.ones((2, 1)), atol=1e-6)
    assert int(nfe) == 10


# -- the sampler grammar ------------------------------------------------------------------------


def test_sampler_grammar_parses_names_steps_and_typed_options():
    table = ODE_SAMPLERS | SamplerTable({"ddim": SamplerKind(options={"eta": float}),
                                         "ald": SamplerKind(options={"denoise": bool}, steps="required")})
    spec = table.parse("ddim@50:eta=0.5")
    assert (spec.name, spec.steps, spec.get("eta")) == ("ddim", 50, 0.5) and str(spec) == "ddim@50:eta=0.5"
    assert table.parse(None).is_default and table.parse("default").is_default
    assert table.parse("ald@3:denoise=false").get("denoise") is False
    assert table.parse("tsit5:rtol=1e-3").get("rtol") == 1e-3
    bad = {
        "rk4@5": "unknown sampler 'rk4@5'; allowed: default, euler[@steps]",
        "heun@0": "positive integer",
        "heun@x": "positive integer",
        "ddim:eta=fast": "eta expects a float",
        "ddim:beta=1": "option 'beta' is not one of eta=<float>",
        "ald": "needs a step count",
        "default@4": "takes no step count",
        "ddim:eta": "key=value",
        "": "not a spec",
    }
    for text, message in bad.items():
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("[", r"\[")):
            table.parse(text)


def test_ode_specs_give_the_solver_configs():
    base = ODESolverConfig("tsit5", steps=100, rtol=1e-5, atol=1e-5)
    assert ode_config(ODE_SAMPLERS.parse("default"), base) == base
    cfg = ode_config(ODE_SAMPLERS.parse("heun@8"), base)
    assert (cfg.solver, cfg.steps, cfg.adaptive) == ("heun", 8, False)
    cfg = ode_config(ODE_SAMPLERS.parse("dopri5:rtol=1e-3"), base)
    assert (cfg.solver, cfg.rtol, cfg.atol, cfg.adaptive) == ("dopri5", 1e-3, 1e-5, True)
    cfg = ode_config(ODE_SAMPLERS.parse("tsit5@4"), base)
    assert cfg.fixed_grid and cfg.steps == 4 and not cfg.adaptive
    cfg = ode_config(ODE_SAMPLERS.parse("euler"), base)
    assert (cfg.solver, cfg.steps, cfg.adaptive) == ("euler", 100, False)
