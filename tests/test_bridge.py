"""Schrödinger bridges: the Gaussian closed form, bridge matching, the Schrödinger coupling, DSBM.

The closed form is checked against its defining properties (the coupling's precision, the OT
limit, the 1-D formula, Euler-Maruyama of its own drift, Nelson's relation, the fixed point of
iterative Markovian fitting); bridge matching against the closed form (its regression on the exact
coupling is the Schrödinger drift); the minibatch coupling against the closed-form cross-covariance;
DSBM's outer loop against its definition step by step; and, in the slow tier, the DSBM paper's
Gaussian benchmark and rectified flow on the same pair.
"""

import functools
import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from genjax import data as gdata
from genjax.bridge import (
    BridgeMatching,
    GaussianBridge,
    GaussianEndpoint,
    ReferenceCoupling,
    bridge_matching_loss,
    build_bridge_matching,
    build_dsbm,
    build_sbcfm,
    bures_cross_covariance,
    endpoint_moments,
    euler_maruyama_moments,
    gaussian_schrodinger_bridge,
    markovian_projection_coupling,
    schrodinger_coupling,
)
from genjax.bridge.endpoints import DatasetEndpoint
from genjax.errors import ConfigError, DataError
from genjax.flow_matching import SinkhornCoupling
from genjax.ode import sdeint
from genjax.train import init_state, make_train_step

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_bridge = jax.jit(gaussian_schrodinger_bridge)
_project = jax.jit(markovian_projection_coupling, static_argnames="steps")


def _spd(rng, d, shift):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + shift * np.eye(d)


@functools.lru_cache(maxsize=None)
def _pair(d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), _spd(rng, d, 0.5), rng.normal(size=d), _spd(rng, d, 0.3)


# ---------------------------------------------------------------------------------------------
# the closed form


def test_joint_precision_off_diagonal_block_is_minus_identity_over_sigma_squared():
    with jax.enable_x64(True):
        mu0, s0, mu1, s1 = _pair()
        for sigma in (0.3, 1.0, 2.0):
            bridge = _bridge(mu0, s0, mu1, s1, sigma)
            precision = np.linalg.inv(np.asarray(bridge.joint_covariance()))
            np.testing.assert_allclose(precision[:3, 3:], -np.eye(3) / sigma**2, atol=1e-9)
            np.testing.assert_allclose(precision[3:, :3], -np.eye(3) / sigma**2, atol=1e-9)
            # and the marginals are the given ones
            np.testing.assert_allclose(bridge.cov(0.0), s0, atol=1e-12)
            np.testing.assert_allclose(bridge.cov(1.0), s1, atol=1e-12)


def test_small_sigma_gives_the_bures_optimal_transport_cross_covariance():
    with jax.enable_x64(True):
        _, s0, _, s1 = _pair()
        c = np.asarray(_bridge(np.zeros(3), s0, np.zeros(3), s1, 1e-4).c)
        # The OT map T = S0^{-1} C: symmetric, positive definite, pushing S0 onto S1 (T S0 T = S1),
        # which characterises the Brenier map between the two Gaussians.
        t = np.linalg.solve(s0, c)
        np.testing.assert_allclose(t, t.T, atol=1e-6)
        assert np.all(np.linalg.eigvalsh(0.5 * (t + t.T)) > 0)
        np.testing.assert_allclose(t @ s0 @ t, s1, atol=1e-6)
        np.testing.assert_allclose(c, bures_cross_covariance(s0, s1), atol=1e-6)
        # while at sigma = 1 the coupling is far from it
        c1 = np.asarray(_bridge(np.zeros(3), s0, np.zeros(3), s1, 1.0).c)
        assert np.max(np.abs(c1 - c)) > 0.1


def test_one_dimensional_unit_variance_coupling():
    with jax.enable_x64(True):
        for sigma in (0.5, 1.0, 2.0):
            c = float(_bridge(0.0, 1.0, 3.0, 1.0, sigma).c[0, 0])
            np.testing.assert_allclose(c, (np.sqrt(4.0 + sigma**4) - sigma**2) / 2.0, rtol=1e-12)
            if sigma == 1.0:
                assert abs(c - 0.6180339887) < 1e-9


def _assert_cov_within_3se(a, b, expected):
    """Sample ``Cov(a_i, b_j)`` against ``expected [d, d]``, entry by entry within 3 standard errors."""
    n = a.shape[0]
    ac, bc = a - a.mean(0), b - b.mean(0)
    prods = ac[:, :, None] * bc[:, None, :]
    est, se = prods.mean(0), prods.std(0) / np.sqrt(n)
    assert np.all(np.abs(est - expected) < 3 * se), (est, expected, se)


def test_euler_maruyama_of_the_closed_form_drift_reproduces_s1_and_c():
    """genjax.ode.sdeint, 200 steps, 20 000 paths from N(mu0, S0) with the forward drift: the ends
    have covariance S1 and cross-covariance C within 3 standard errors, entry by entry (the backward
    drift follows from this one by Nelson's relation, tested below)."""
    n, steps, sigma = 20_000, 200, 0.8
    with jax.enable_x64(True):
        mu0, s0, mu1, s1 = (np.asarray(a)[:2] if np.ndim(a) == 1 else np.asarray(a)[:2, :2] for a in _pair(3, 1))
        bridge = _bridge(mu0, s0, mu1, s1, sigma)
        x0, _ = bridge.sample_coupling(jax.random.key(0), n)
        run = jax.jit(lambda b, x, k: sdeint(lambda t, y, _: b.forward_drift(t, y), lambda t, y, _: sigma, x,
                                             jnp.linspace(0.0, 1.0, steps + 1), k)[0])
        x1 = np.asarray(run(bridge, x0, jax.random.key(1)))
    x0 = np.asarray(x0)
    _assert_cov_within_3se(x1, x1, np.asarray(bridge.s1))
    _assert_cov_within_3se(x0, x1, np.asarray(bridge.c))
    assert np.all(np.abs(x1.mean(0) - np.asarray(bridge.mu1)) < 3 * np.sqrt(np.diag(bridge.s1) / n))


def test_euler_maruyama_moments_converge_to_the_bridge_at_first_order():
    """The exact moments of the Euler-Maruyama chain (what a perfectly fitted drift gives on N
    steps) tend to (S1, C) with error slope 1 in the step size."""
    with jax.enable_x64(True):
        mu0, s0, mu1, s1 = _pair()
        bridge = _bridge(mu0, s0, mu1, s1, 0.7)
        steps = np.array([50, 100, 200, 400])
        moments = jax.jit(euler_maruyama_moments, static_argnums=1)
        errors = []
        for n in steps:
            v, g = moments(bridge, int(n))
            errors.append(max(np.abs(np.asarray(v) - s1).max(), np.abs(np.asarray(g) - np.asarray(bridge.c)).max()))
        slope = np.polyfit(np.log(1.0 / steps), np.log(errors), 1)[0]
        assert abs(slope - 1.0) < 0.1, (slope, errors)


def test_forward_plus_backward_drift_is_sigma_squared_times_the_score():
    with jax.enable_x64(True):
        mu0, s0, mu1, s1 = _pair()
        bridge = _bridge(mu0, s0, mu1, s1, 0.7)
        x = np.random.default_rng(3).normal(size=(5, 3))
        for t in (0.1, 0.5, 0.9):
            lhs = bridge.forward_drift(t, x) + bridge.backward_drift(t, x)
            np.testing.assert_allclose(lhs, 0.49 * bridge.score(t, x), atol=1e-10)


def test_iterative_markovian_fitting_in_closed_form_converges_to_the_bridge():
    with jax.enable_x64(True):
        # 1-D, unit variances, sigma = 1, from the independent coupling: c_1 = 0.5463 (the
        # Markovian projection of independent Brownian bridges), then 0.6111, 0.6174, ... -> 0.618
        one = _bridge(0.0, 1.0, 0.0, 1.0, 1.0)
        c, iterates = jnp.zeros((1, 1)), []
        for _ in range(6):
            c = _project(GaussianBridge(one.mu0, one.s0, one.mu1, one.s1, c, 1.0), steps=1000)
            iterates.append(float(c[0, 0]))
        np.testing.assert_allclose(iterates[:3], [0.546293, 0.611143, 0.617385], atol=2e-6)
        assert abs(iterates[-1] - GOLDEN) < 1e-5
        assert np.all(np.diff(iterates) > 0)
        # the bridge's coupling is the projection's fixed point in d = 3
        mu0, s0, mu1, s1 = _pair()
        bridge = _bridge(mu0, s0, mu1, s1, 0.7)
        np.testing.assert_allclose(_project(bridge, steps=1000), bridge.c, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# bridge matching


def test_bridge_matching_on_the_exact_coupling_recovers_the_closed_form_drift():
    """The bridge-matching loss of a linear drift ``A x + a`` at a fixed t is quadratic in (A, a), so
    one Newton step from zero gives its minimiser over 5 10^5 exact-coupling pairs: the closed-form
    forward and backward drifts, within 1e-2 in every coefficient (3 standard errors are 0.007 at
    the noisiest of these times)."""
    n, sigma, d = 500_000, 1.0, 2
    with jax.enable_x64(True):
        mu0, s0, mu1, s1 = (np.asarray(a)[:d] if np.ndim(a) == 1 else np.asarray(a)[:d, :d] for a in _pair(3, 2))
        bridge = _bridge(mu0, s0, mu1, s1, sigma)
        key = jax.random.key(4)
        x0, x1 = bridge.sample_coupling(jax.random.fold_in(key, 0), n)
        noise = jax.random.normal(jax.random.fold_in(key, 1), (n, d), jnp.float64)

        @functools.partial(jax.jit, static_argnums=1)
        def fit(t, direction):
            def loss(theta):
                gain, offset = theta[: d * d].reshape(d, d), theta[d * d :]
                return jnp.mean(bridge_matching_loss(lambda x, s: x @ gain.T + offset, x0, x1, jnp.full((n,), t),
                                                     noise, sigma, direction))

            theta0 = jnp.zeros(d * d + d)
            return theta0 - jnp.linalg.solve(jax.hessian(loss)(theta0), jax.grad(loss)(theta0))

        for direction, t in itertools.product(("forward", "backward"), (0.3, 0.7)):
            theta = fit(t, direction)
            gain, offset = (bridge.forward_gain if direction == "forward" else bridge.backward_gain)(t)
            np.testing.assert_allclose(theta[: d * d].reshape(d, d), gain, atol=1e-2)
            np.testing.assert_allclose(theta[d * d :], offset, atol=1e-2)


def test_schrodinger_coupling_is_entropic_ot_at_two_sigma_squared():
    """Minibatch pairs of ``schrodinger_coupling(sigma)`` between N(0, 1) batches have the closed-form
    cross-covariance; flow matching's default (relative) Sinkhorn coupling is near exact OT instead."""
    n, reps = 512, 3
    draw = jax.jit(lambda k: (jax.random.normal(jax.random.fold_in(k, 0), (n, 1)),
                              jax.random.normal(jax.random.fold_in(k, 1), (n, 1))))
    corr = lambda ab: float(np.corrcoef(np.asarray(ab[0])[:, 0], np.asarray(ab[1])[:, 0])[0, 1])  # noqa: E731
    for sigma in (0.5, 1.0):
        expected = (np.sqrt(4.0 + sigma**4) - sigma**2) / 2.0
        coupling = jax.jit(schrodinger_coupling(sigma, iters=200))
        covs = [corr(coupling(jax.random.key(20 + r), *draw(jax.random.key(10 + r)))) for r in range(reps)]
        assert abs(np.mean(covs) - expected) < 0.03, (sigma, covs, expected)
    # epsilon = 0.05 mean(C) = 0.1 here, sigma^2 = 0.05 in the closed form: c = 0.975
    assert corr(jax.jit(SinkhornCoupling())(jax.random.key(20), *draw(jax.random.key(10)))) > 0.95



def test_absolute_sinkhorn_epsilon_and_annealing_are_in_the_units_of_the_cost():
    """``absolute=True`` with epsilon and anneal_from times the batch's mean cost draws the same
    partners as the relative coupling, annealed or not; the annealed plan is flow matching's
    ``sinkhorn_log_plan`` with its first regularisation in the cost's units."""
    from genjax.flow_matching.couplings import sinkhorn_log_plan, squared_distances

    k0, k1, kc = jax.random.split(jax.random.key(3), 3)
    x0 = 3.0 * jax.random.normal(k0, (64, 2))
    x1 = jax.random.normal(k1, (64, 2)) + 2.0
    cost = squared_distances(x0, x1)
    scale = float(jnp.mean(cost))
    assert abs(scale - 1.0) > 1.0  # the two units differ on this batch
    for anneal in (None, 1.0):
        rel = SinkhornCoupling(epsilon=0.01, iters=30, anneal_from=anneal)(kc, x0, x1)[0]
        ab = SinkhornCoupling(epsilon=0.01 * scale, iters=30, absolute=True,
                              anneal_from=None if anneal is None else anneal * scale)(kc, x0, x1)[0]
        np.testing.assert_array_equal(np.asarray(rel), np.asarray(ab))
    plan = sinkhorn_log_plan(cost, 0.5, 30, 4.0)
    expected = x0[jax.random.categorical(kc, plan, axis=0)]
    drawn = SinkhornCoupling(epsilon=0.5, iters=30, absolute=True, anneal_from=4.0)(kc, x0, x1)[0]
    np.testing.assert_allclose(np.asarray(drawn), np.asarray(expected), rtol=0, atol=0)
    unannealed = SinkhornCoupling(epsilon=0.5, iters=30, absolute=True)(kc, x0, x1)[0]
    assert not np.array_equal(np.asarray(unannealed), np.asarray(drawn))

def _constant_drift_model(sigma, steps=10):
    class Constant(nn.Module):
        @nn.compact
        def __call__(self, x, t):
            return jnp.broadcast_to(self.param("v", nn.initializers.normal(1.0), x.shape[1:]), x.shape)

    ends = GaussianEndpoint((2,))
    return BridgeMatching(Constant(), (2,), sigma=sigma, source=ends, target=ends, steps=steps)


def test_sampling_in_either_direction_moves_by_that_directions_drift():
    sigma, n = 0.5, 20_000
    model = _constant_drift_model(sigma)
    params = model.init(jax.random.key(0), {"x": jnp.zeros((4, 2))})
    x = jnp.zeros((n, 2))
    both = jax.jit(lambda p, k: [model.sample_with_stats(p, jax.random.fold_in(k, i), n, x_start=x,
                                                         sampler=f"em:direction={d}")
                                 for i, d in enumerate(("forward", "backward"))])
    for direction, (end, stats) in zip(("forward", "backward"), both(params, jax.random.key(1))):
        v = np.asarray(params[direction]["params"]["v"])
        end = np.asarray(end)
        assert int(stats["nfe"]) == model.steps
        assert np.all(np.abs(end.mean(0) - v) < 3 * sigma / np.sqrt(n))
        np.testing.assert_allclose(end.var(0), sigma**2, rtol=0.05)
    # the probability-flow ODE moves by (b - b^-) / 2; backwards, from t = 1 to 0, by its negative
    v_f, v_b = (np.asarray(params[d]["params"]["v"]) for d in ("forward", "backward"))
    end = model.sample(params, jax.random.key(2), 3, sampler="heun@4:direction=backward", x_start=x[:3])
    np.testing.assert_allclose(end, np.broadcast_to(-0.5 * (v_f - v_b), (3, 2)), atol=1e-5)
    with pytest.raises(ValueError, match="direction"):
        model.sample(params, jax.random.key(2), 3, sampler="em:direction=sideways")


# ---------------------------------------------------------------------------------------------
# DSBM's outer loop


def _tiny_dsbm(schedule, inner=2, first="backward"):
    cfg = ml_collections.ConfigDict({"name": "dsbm", "hidden": (8,), "time_dim": 4, "steps": 3,
                                     "inner_steps": inner, "schedule": schedule, "first": first})
    return build_dsbm(cfg, gdata.get_dataset("normal", dim=2, mean=1.0))


def _same(a, b):
    return all(bool(jnp.array_equal(x, y)) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def _tiny_run(schedule):
    """``(model, dataset, initial state, jitted train step)`` of a tiny DSBM on N(1, I) in 2-D."""
    model = _tiny_dsbm(schedule)
    ds = model.target.dataset
    tx = optax.adam(1e-2)
    state = init_state(model, tx, jax.random.key(0), ds.train_batch(jax.random.key(1), 0, 16))
    return model, ds, state, jax.jit(make_train_step(model, tx))


@pytest.mark.slow
def test_alternating_dsbm_trains_one_direction_per_outer_iteration_and_snapshots_at_its_end():
    model, ds, state, step = _tiny_run("alternate")
    history = [state.params]
    for s in range(6):
        state, metrics = step(state, ds.train_batch(jax.random.key(1), s, 16))
        history.append(state.params)
        k = s // 2
        trained, frozen = ("backward", "forward") if k % 2 == 0 else ("forward", "backward")
        assert float(metrics[f"{trained}/active"]) == 1.0 and float(metrics[f"{frozen}/active"]) == 0.0
        assert float(metrics[f"{frozen}/loss"]) == 0.0 and float(metrics[f"{trained}/loss"]) > 0.0
        assert float(metrics[f"{trained}/iteration"]) == k
        # the direction not trained keeps the value it had when the iteration began, exactly
        assert _same(state.params[frozen], history[2 * k][frozen])
        assert not _same(state.params[trained], history[s][trained])
        if (s + 1) % 2 == 0:  # an iteration's last step: the snapshot takes both nets
            assert _same(state.params["snapshot"], {d: state.params[d] for d in ("forward", "backward")})
        else:
            assert _same(state.params["snapshot"], history[2 * k]["snapshot"])


@pytest.mark.slow
def test_dsbm_pairs_come_from_the_initial_coupling_then_from_the_snapshot():
    model = _tiny_dsbm("alternate")
    ds = model.target.dataset
    params = model.init(jax.random.key(0), ds.train_batch(jax.random.key(1), 0, 8))
    params = {**params, "snapshot": model.init(jax.random.key(5), ds.train_batch(jax.random.key(1), 0, 8))}
    batch, key = ds.train_batch(jax.random.key(1), 3, 8), jax.random.key(7)
    k_src, _, k_sim = jax.random.split(key, 3)
    x0 = model.source.sample(k_src, 8)
    a0, a1 = model.pairs(params, batch, key, 0, "forward")  # independent coupling
    assert _same((a0, a1), (x0, batch["x"]))
    b0, b1 = model.pairs(params, batch, key, 3, "forward")  # the snapshot's backward SDE from the data
    assert _same(b1, batch["x"])
    np.testing.assert_allclose(b0, model.simulate(params["snapshot"], k_sim, batch["x"], "backward")[0], atol=1e-6)
    c0, c1 = model.pairs(params, batch, key, 2, "backward")  # its forward SDE from the source
    assert _same(c0, x0)
    np.testing.assert_allclose(c1, model.simulate(params["snapshot"], k_sim, x0, "forward")[0], atol=1e-6)


@pytest.mark.slow
def test_bidirectional_dsbm_trains_both_directions_every_step():
    model, ds, state, step = _tiny_run("bidirectional")
    for s in range(3):
        before = state.params
        state, metrics = step(state, ds.train_batch(jax.random.key(1), s, 16))
        for d in ("forward", "backward"):
            assert float(metrics[f"{d}/active"]) == 1.0 and not _same(state.params[d], before[d])


def test_ipf_starts_from_the_reference_process():
    coupling = ReferenceCoupling(0.5)
    x0 = jnp.ones((20_000, 2))
    a0, a1 = coupling(jax.random.key(0), x0, jnp.zeros_like(x0))
    assert _same(a0, x0)
    np.testing.assert_allclose(np.asarray(a1).mean(0), 1.0, atol=3 * 0.5 / np.sqrt(20_000))
    np.testing.assert_allclose(np.asarray(a1).std(0), 0.5, rtol=0.03)
    model = build_dsbm(ml_collections.ConfigDict({"name": "dsbm", "method": "ipf", "sigma": 0.5}),
                       gdata.get_dataset("moons"))
    assert isinstance(model.initial_coupling, ReferenceCoupling) and model.initial_coupling.sigma == 0.5


# ---------------------------------------------------------------------------------------------
# config and data


def test_config_errors_are_one_line():
    moons = gdata.get_dataset("moons")
    cases = [
        (build_sbcfm, {"sigma": 0.0}, "model.sigma"),
        (build_bridge_matching, {"sigma": 0.0, "coupling": "sinkhorn"}, "exact_ot"),
        (build_dsbm, {"method": "ipf", "coupling": "independent"}, "model.coupling"),
        (build_dsbm, {"schedule": "both"}, "model.schedule"),
        (build_dsbm, {"source": "digits"}, "model.source"),
        (build_dsbm, {"source": "8gaussians", "source_options": {"size": 3}}, "model.source_options"),
        (build_dsbm, {"source_options": {"classes": (1,)}}, "model.source_options"),
        (build_sbcfm, {"coupling": "independent"}, "model.coupling"),
    ]
    for build, keys, match in cases:
        with pytest.raises(ConfigError, match=match) as info:
            build(ml_collections.ConfigDict({"name": "x", **keys}), moons)
        assert "\n" not in str(info.value)


def test_sbcfm_and_bridge_matching_default_to_the_entropic_coupling_at_two_sigma_squared():
    moons = gdata.get_dataset("moons")
    for build in (build_sbcfm, build_bridge_matching):
        model = build(ml_collections.ConfigDict({"name": "x", "sigma": 0.3}), moons)
        assert model.coupling == SinkhornCoupling(epsilon=2 * 0.3**2, iters=200, absolute=True)


def test_normal_dataset_and_class_subsets():
    normal = gdata.get_dataset("normal", dim=3, mean=0.5, std=2.0)
    x = np.asarray(normal.test_batch(4000)["x"])
    assert x.shape == (4000, 3)
    assert np.all(np.abs(x.mean(0) - 0.5) < 3 * 2.0 / np.sqrt(4000))
    np.testing.assert_allclose(x.std(0), 2.0, rtol=0.05)
    other = np.asarray(gdata.get_dataset("normal", dim=3, mean=-0.5, std=2.0).test_batch(4000)["x"])
    assert abs(np.corrcoef(x[:, 0], other[:, 0])[0, 1]) < 0.05  # held-out sets of two options are independent
    ones = gdata.get_dataset("digits", classes=(1,))
    assert set(np.unique(ones.test_values()["label"])) == {1} and ones.num_classes == 10
    assert set(np.unique(ones.train_batch(jax.random.key(0), 0, ones.num_train)["label"])) == {1}
    assert ones.num_test == int(np.sum(np.asarray(gdata.get_dataset("digits").test_values()["label"]) == 1))
    with pytest.raises(DataError, match="classes"):
        gdata.get_dataset("moons", classes=(0,))
    # a class subset with fewer examples than asked for still feeds the bridge (whole epochs)
    assert DatasetEndpoint(ones).sample(jax.random.key(0), ones.num_train + 5).shape == (ones.num_train + 5, 64)


# ---------------------------------------------------------------------------------------------
# the DSBM paper's Gaussian benchmark, reduced (slow tier)


def _gaussian_moments(model, params, n=10_000, steps=None):
    key = jax.random.key(123)
    x0 = model.source.sample(jax.random.fold_in(key, 0), n)
    x1 = model.target.sample(jax.random.fold_in(key, 1), n)
    gen1, gen0 = jax.jit(functools.partial(model.generate_ends, steps=steps))(params, jax.random.fold_in(key, 2), x0, x1)
    return {"forward": endpoint_moments(x0, gen1, "x1"), "backward": endpoint_moments(gen0, x1, "x0")}


def _train(config_name, **overrides):
    from experiments.bridge_common import gaussian_config
    from genjax.train import Trainer

    config = gaussian_config(config_name, 5, **overrides)
    trainer = Trainer.from_config(config)
    state, step = trainer.init(), 0
    while step < config.train.steps:
        state, _ = trainer.run(state, step, 500)
        step += 500
    return trainer.model, state.params


@pytest.mark.slow
def test_dsbm_gaussian_benchmark_recovers_the_bridge_and_rectified_flow_does_not():
    """N(-0.1, I) -> N(0.1, I) in d = 5, sigma = 1, 20 Euler-Maruyama steps: DSBM-IMF, 4 outer
    iterations of 2000 steps, generates both ends (mean within 3 SE, variance 1 +- 0.05) with the
    bridge's coupling (per-coordinate Cov(X0, X1) = 0.618 +- 0.03); rectified flow (bridge matching
    at sigma = 0 on the independent coupling, 4000 steps) matches the ends too but couples them by
    a deterministic map, a translation here, whose covariance is 1. (Its ODE is solved on 500 Euler
    steps: on 20, Euler's own error on the exact field is var 0.879, cov 0.938.)"""
    model, params = _train("dsbm", inner_steps=2000, outer=4)
    m = _gaussian_moments(model, params)
    for name, mean in (("forward", 0.1), ("backward", -0.1)):
        assert abs(m[name]["mean"] - mean) < 3 * m[name]["mean_stderr"], (name, m)
        assert abs(m[name]["var"] - 1.0) < 0.05, (name, m)
        assert abs(m[name]["coupling_cov"] - GOLDEN) < 0.03, (name, m)
    model, params = _train("rf", inner_steps=2000, outer=2)
    m = _gaussian_moments(model, params, steps=500)
    assert abs(m["forward"]["var"] - 1.0) < 0.05 and abs(m["forward"]["coupling_cov"] - 1.0) < 0.03, m


@pytest.mark.slow
def test_dsbm_resumed_mid_iteration_continues_exactly(tmp_path):
    """The outer loop lives in the train state: a run checkpointed at step 3 (inside its second
    outer iteration of 2 steps, snapshot and average taken at step 2), restored into a fresh state
    skeleton and continued to step 6 ends with bitwise the parameters and optimiser state of the
    run that went on without the round trip."""
    from experiments.bridge_common import gaussian_config
    from genjax.train import Checkpointer, Trainer

    c = gaussian_config("dsbm", 2, inner_steps=2, outer=3, hidden=(8,))
    c.model.steps, c.data.batch_size, c.train.schedule = 3, 16, "constant"
    trainer = Trainer.from_config(c)
    state, _ = trainer.run(trainer.init(), 0, 3)
    ckpt = Checkpointer(tmp_path / "checkpoints", async_save=False)
    ckpt.save(3, state)
    ckpt.wait()
    restored, step = ckpt.restore(trainer.abstract_state())
    ckpt.close()
    assert step == 3 and set(restored.params) == {"forward", "backward", "snapshot", "average"}
    straight, _ = trainer.run(state, 3, 3)
    resumed, _ = trainer.run(restored, 3, 3)
    assert _same(straight.params, resumed.params) and _same(straight.opt_state, resumed.opt_state)
    assert int(resumed.step) == 6
