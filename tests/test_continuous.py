"""CNF / FFJORD and the Neural ODE layer: closed forms, adjoints, orders, densities (the shared
divergences and log-det integrator are tested in test_ode.py)."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import data, registry
from genjax.continuous import CNF, NeuralODE
from genjax.ode import ODESolverConfig, integrate_with_log_det, odeint
from genjax.errors import ConfigError
from genjax.nn import ConcatSquashDense, ConcatSquashMLP


class LinearField(nn.Module):
    """``dx/dt = A x`` with ``A`` a parameter initialised to a given matrix (time ignored)."""

    matrix: np.ndarray

    @nn.compact
    def __call__(self, x, t):
        a = self.param("a", lambda key: jnp.asarray(self.matrix, x.dtype))
        return x @ a.T


# -- closed forms through the model ------------------------------------------------------------


def test_rnode_terms_match_closed_form_through_the_model():
    # dx/dt = a x: ||f||^2 integrates to a/2 (e^{2aT} - 1) ||x0||^2, ||J||_F^2 to d a^2 T.
    a, end, d = -0.6, 0.8, 2
    with jax.enable_x64(True):
        model = CNF(LinearField(a * np.eye(d)), (d,), solver=ODESolverConfig("dopri5", rtol=1e-10, atol=1e-10),
                    time_length=end, train_time=False)
        x = jax.random.normal(jax.random.key(0), (64, d), jnp.float64)
        params = model.init(jax.random.key(1), {"x": x})
        extra = model.extra_metrics(params, jax.random.key(2), {"x": x})
        sq = jnp.sum(x**2, -1)
        np.testing.assert_allclose(extra["kinetic"], jnp.mean(a / 2 * (np.exp(2 * a * end) - 1) * sq), rtol=1e-7)
        np.testing.assert_allclose(extra["jac_frob"], d * a**2 * end, rtol=1e-7)
        z = x * np.exp(a * end)
        expected = -0.5 * jnp.sum(z**2, -1) - d / 2 * np.log(2 * np.pi) + d * a * end
        np.testing.assert_allclose(model.log_prob(params, x), expected, rtol=1e-9)


# -- solves, adjoints, NFE ----------------------------------------------------------------------


def _tiny_cnf(solver, **kw):
    return CNF(ConcatSquashMLP((8, 8)), (2,), solver=solver, **kw)


@pytest.mark.slow  # a gradient through two adaptive solves; the default tier checks the solves themselves
@pytest.mark.parametrize("div", ["exact", "hutchinson"])
def test_backsolve_gradients_match_recursive_checkpoint(div):
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(0), (8, 2), jnp.float64)
        batch = {"x": x}
        grads = {}
        for adjoint in ("recursive", "backsolve"):
            cfg = ODESolverConfig("dopri5", rtol=1e-8, atol=1e-8, adjoint=adjoint)
            # The RNODE terms ride along in the slow (Hutchinson) variant only: they enlarge the
            # compiled solve, and their gradient path is the same for both divergences.
            weight = 0.1 if div == "hutchinson" else 0.0
            model = _tiny_cnf(cfg, divergence=div, kinetic_weight=weight, jacobian_weight=weight)
            params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), model.init(jax.random.key(1), batch))
            grads[adjoint] = jax.grad(lambda p: model.loss(p, batch, jax.random.key(2))[0])(params)
        flat_r = jnp.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(grads["recursive"])])
        flat_b = jnp.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(grads["backsolve"])])
        assert float(jnp.linalg.norm(flat_b - flat_r) / jnp.linalg.norm(flat_r)) < 1e-3
        assert float(jnp.abs(grads["backsolve"]["sqrt_time"] / grads["recursive"]["sqrt_time"] - 1)) < 1e-3


def test_neural_ode_layer_gradients_and_closed_form():
    a = np.array([[-0.5, 1.0], [-1.0, -0.5]])
    x = jnp.array([[1.0, 0.5], [0.2, -0.3]])
    # d/dA sum ||expm(tA) x||^2, by autodiff of the closed form.
    closed = jax.value_and_grad(lambda m: jnp.sum((x @ jax.scipy.linalg.expm(1.5 * m).T) ** 2))(
        jnp.asarray(a, jnp.float32))
    for adjoint in ("recursive", "backsolve"):
        layer = NeuralODE(LinearField(a), ODESolverConfig("tsit5", rtol=1e-7, atol=1e-7, adjoint=adjoint), t1=1.5)
        params = layer.init(jax.random.key(0), x)

        def loss(p):
            y, nfe = layer.apply(p, x)
            return jnp.sum(y**2), nfe

        (value, nfe), grads = jax.value_and_grad(loss, has_aux=True)(params)
        assert int(nfe) > 0
        np.testing.assert_allclose(value, closed[0], rtol=1e-5)
        np.testing.assert_allclose(grads["params"]["field"]["a"], closed[1], rtol=1e-3, atol=1e-4)


_slow = pytest.mark.slow


@pytest.mark.parametrize("name,order", [("euler", 1), pytest.param("midpoint", 2, marks=_slow), ("heun", 2),
                                        pytest.param("ralston", 2, marks=_slow), ("bosh3", 3),
                                        pytest.param("tsit5", 5, marks=_slow), ("dopri5", 5)])
def test_fixed_step_cnf_solve_converges_at_the_solver_order(name, order):
    with jax.enable_x64(True):
        solve, exact = _order_problem()
        # Fifth-order pairs are pre-asymptotic at 8 steps (Tsit5's leading error coefficient is
        # tuned small): local slopes 5.46 / 5.26 / 5.14 from 8 to 64 steps; the fit starts at 16.
        steps = {5: np.array([16, 32, 64]), 3: np.array([8, 16, 32])}.get(order, np.array([8, 16, 32, 64]))
        errs = [float(jnp.max(jnp.abs(solve(ODESolverConfig(name, steps=int(n), fixed_grid=True)) - exact)))
                for n in steps]
        slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
        assert abs(slope - order) < 0.3, (name, slope, errs)


@functools.cache
def _order_problem():
    """A nonlinear CNF solve in float64 (call under x64) and its tight-tolerance solution."""
    net = ConcatSquashMLP((8,), activation="tanh")
    x = jax.random.normal(jax.random.key(0), (8, 2), jnp.float64)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64),
                                    net.init(jax.random.key(3), x, jnp.zeros((), jnp.float64)))
    field = lambda t, y, p: net.apply(p, y, t)  # noqa: E731

    def solve(cfg):
        state, _ = integrate_with_log_det(field, x, 0.0, 1.0, cfg, args=params)
        return jnp.concatenate([state["x"].ravel(), state["logdet"]])

    return solve, solve(ODESolverConfig("dopri8", rtol=1e-13, atol=1e-13))


def test_reported_nfe_counts_evaluations_with_automatic_first_step():
    counter = []

    def field(t, x, args):
        jax.debug.callback(lambda: counter.append(1))
        return jnp.tanh(x) * args

    x = jax.random.normal(jax.random.key(0), (5, 2))
    cfg = ODESolverConfig("dopri5", rtol=1e-6, atol=1e-6, dt0="auto")
    state, nfe = integrate_with_log_det(field, x, 0.0, 1.0, cfg, args=jnp.float32(1.5))
    jax.block_until_ready(state)
    assert int(nfe) == len(counter)
    counter.clear()
    y, nfe = odeint(field, x, 0.0, 1.0, cfg.replace(dt0=0.05), args=jnp.float32(1.5))
    jax.block_until_ready(y)
    assert int(nfe) == len(counter)


def test_dt0_validation():
    with pytest.raises(ValueError, match="dt0"):
        ODESolverConfig(dt0=-1.0)
    with pytest.raises(ValueError, match="dt0"):
        ODESolverConfig(dt0="fast")


# -- the model ----------------------------------------------------------------------------------


def test_concatsquash_dense_is_gated_and_shifted_by_time():
    layer = ConcatSquashDense(3)
    x, t = jax.random.normal(jax.random.key(0), (4, 2)), jnp.float32(0.7)
    params = layer.init(jax.random.key(1), x, t)["params"]
    lin, gate, shift = params["linear"], params["gate"], params["shift"]
    expected = (x @ lin["kernel"] + lin["bias"]) * jax.nn.sigmoid(t * gate["kernel"][0] + gate["bias"]) \
        + t * shift["kernel"][0]
    np.testing.assert_allclose(layer.apply({"params": params}, x, t), expected, rtol=1e-6)
    # One time per row gives the same as the scalar time broadcast.
    np.testing.assert_allclose(layer.apply({"params": params}, x, jnp.full((4,), t)), expected, rtol=1e-6)


def _toy_model(**model_keys):
    ds = data.get_dataset("8gaussians")
    mc = ml_collections.ConfigDict({"name": "ffjord", "hidden": (16, 16), **model_keys})
    return registry.build_model(mc, ds), ds


def test_log_prob_jit_equals_nojit_and_batched_equals_per_example():
    model, ds = _toy_model(ode={"rtol": 1e-7, "atol": 1e-7})
    x = ds.sample(jax.random.key(0), 6)["x"]
    params = model.init(jax.random.key(1), {"x": x})
    lp = model.log_prob(params, x)
    np.testing.assert_allclose(jax.jit(model.log_prob)(params, x), lp, atol=1e-5)
    # Each example alone (vmap of one-example solves: each takes its own adaptive steps).
    singles = jax.vmap(lambda xi: model.log_prob(params, xi[None])[0])(x)
    np.testing.assert_allclose(singles, lp, atol=2e-4)


def test_hutchinson_log_prob_is_unbiased_for_the_exact_one():
    model, ds = _toy_model(eval_divergence="hutchinson", probe="rademacher")
    x = jnp.broadcast_to(ds.sample(jax.random.key(0), 1)["x"], (4000, 2))
    params = model.init(jax.random.key(1), {"x": x})
    est = model.log_prob(params, x, key=jax.random.key(5))
    exact, stats = model.log_prob_with_stats(params, x[:1], divergence="exact")
    se = float(jnp.std(est)) / np.sqrt(len(est))
    assert abs(float(jnp.mean(est)) - float(exact[0])) < 3 * se + 1e-4
    assert int(stats["nfe"]) > 0


def test_builder_rejects_bad_keys():
    with pytest.raises(ConfigError, match="model.divergence"):
        _toy_model(divergence="brute_force")
    with pytest.raises(ConfigError, match="model.ode.adjoint"):
        _toy_model(ode={"adjoint": "torch"})
    with pytest.raises(ConfigError, match="model.ode.solvr.*did you mean 'model.ode.solver'"):
        _toy_model(ode={"solvr": "dopri5"})
    with pytest.raises(ConfigError, match="model.solver"):
        _toy_model(solver="dopri5")
    model, _ = _toy_model(ode={"dt0": "auto"}, eval_ode={"rtol": 1e-7})
    assert model.solver.dt0 == "auto" and model.eval_solver.rtol == 1e-7 and model.eval_divergence == "exact"
    assert model.eval_solver.atol == model.solver.atol and model.log_prob_kind == "exact"
    model, _ = _toy_model(ode={"dt0": 0.0})
    assert model.solver.dt0 is None


@pytest.fixture(scope="module")
def trained_toy():
    """A small FFJORD trained briefly on 8gaussians (any params define a density; training
    makes the check meaningful: mass concentrated on eight small modes)."""
    from genjax import train
    from genjax.config import default_config

    c = default_config()
    c.data.name = "8gaussians"
    c.data.batch_size = 128
    c.model = ml_collections.ConfigDict({"name": "ffjord", "hidden": (32, 32), "divergence": "hutchinson",
                                         "ode": {"rtol": 1e-3, "atol": 1e-3}, "eval_ode": {"rtol": 1e-6, "atol": 1e-6}})
    c.train.steps, c.train.lr, c.train.steps_per_dispatch = 120, 1e-2, 120
    c.train.ema_decay = 0.0
    trainer = train.Trainer.from_config(c)
    state, metrics = trainer.run(trainer.init(), 0, c.train.steps)
    assert float(metrics["nll"][-20:].mean()) < float(metrics["nll"][:20].mean()) - 0.3
    return trainer.model, state.params


@pytest.mark.slow  # trains a CNF; the default tier checks the density in closed forms
def test_trained_density_integrates_to_one_and_agrees_with_samples(trained_toy):
    model, params = trained_toy
    lim, n = 6.0, 241
    g = np.linspace(-lim, lim, n)
    pts = jnp.asarray(np.stack(np.meshgrid(g, g), -1).reshape(-1, 2), jnp.float32)
    density = np.exp(np.asarray(jax.jit(model.log_prob)(params, pts), np.float64))
    cell = (g[1] - g[0]) ** 2
    mass = density.sum() * cell
    assert abs(mass - 1.0) < 0.01, mass
    # The density's mean and second moments equal those of the samples (within 4 standard errors).
    x, logp, _ = jax.jit(lambda p, k: model.sample_and_log_prob(p, k, 4000))(params, jax.random.key(7))
    x = np.asarray(x, np.float64)
    pts = np.asarray(pts, np.float64)
    feats_grid = np.stack([pts[:, 0], pts[:, 1], pts[:, 0] ** 2, pts[:, 1] ** 2], -1)
    feats_samp = np.stack([x[:, 0], x[:, 1], x[:, 0] ** 2, x[:, 1] ** 2], -1)
    grid_moments = (density[:, None] * feats_grid).sum(0) * cell / mass
    se = feats_samp.std(0) / np.sqrt(len(x))
    assert np.all(np.abs(feats_samp.mean(0) - grid_moments) < 4 * se), (feats_samp.mean(0), grid_moments, se)
    # log p of a sample from its own (backward) solve equals log_prob's forward solve.
    np.testing.assert_allclose(model.log_prob(params, jnp.asarray(x[:500], jnp.float32)), logp[:500], atol=2e-3)


def test_sample_nfe_and_trajectories(trained_toy, tmp_path):
    from genjax.continuous.plots import plot_density, plot_trajectories

    model, params = trained_toy
    x, stats = model.sample_with_stats(params, jax.random.key(0), 100)
    assert x.shape == (100, 2) and int(stats["nfe"]) > 0
    xs = model.trajectories(params, jax.random.key(0), 100, points=5)
    assert xs.shape == (5, 100, 2)
    np.testing.assert_allclose(xs[-1], x, atol=1e-4)  # same key: the path ends at the sample
    x_heun, stats = model.sample_with_stats(params, jax.random.key(0), 100, sampler="heun@10")
    assert int(stats["nfe"]) == 20
    assert plot_trajectories(model, params, tmp_path / "t.png", num=50, points=5).stat().st_size > 0
    assert plot_density(model, params, tmp_path / "d.png", resolution=20).stat().st_size > 0
