"""The shared ODE solve: reported NFE equals the true count; fixed-step solvers converge at their order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.continuous import ODESolverConfig, odeint


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
