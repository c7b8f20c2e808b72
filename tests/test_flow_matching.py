"""Flow matching building blocks: paths, couplings, the model's loss, guidance and config errors."""

import itertools
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import registry
from genjax.config import default_config
from genjax.data import get_dataset
from genjax.errors import ConfigError
from genjax.flow_matching import (
    ConcatMLP,
    ExactOTCoupling,
    FlowMatching,
    GeneralAffinePath,
    LinearPath,
    PairsCoupling,
    SinkhornCoupling,
    VPCosinePath,
    exact_ot_partners,
    independent_coupling,
    save_pairs,
    sinkhorn_log_plan,
    squared_distances,
    transport_cost,
)
from genjax.nn import TimeMLP
from genjax.ode import ode_config

REPO = pathlib.Path(__file__).resolve().parent.parent

PATHS = {
    "linear": LinearPath(),
    "linear_sigma_min": LinearPath(sigma_min=0.1),
    "vp_cosine": VPCosinePath(),
    "general": GeneralAffinePath(alpha=lambda t: t**2, sigma=lambda t: jnp.cos(0.5 * jnp.pi * t) ** 2 + 0.01 * t),
}


def _points(seed, n=64, d=3):
    k0, k1, kt = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(k0, (n, d), jnp.float64), 2.0 + jax.random.normal(k1, (n, d), jnp.float64),
            jax.random.uniform(kt, (n,), jnp.float64, 0.05, 0.95))


# ---------------------------------------------------------------------------------------------
# paths


@pytest.mark.parametrize("name", sorted(PATHS))
def test_path_velocity_is_the_time_derivative_of_x_t(name):
    path = PATHS[name]
    with jax.enable_x64(True):
        x0, x1, t = _points(0)
        h = 1e-6
        fd = (path.sample(x0, x1, t + h) - path.sample(x0, x1, t - h)) / (2 * h)
        np.testing.assert_allclose(path.velocity(x0, x1, t), fd, rtol=1e-7, atol=1e-7)
        # endpoints: the source at t = 0, the data (up to sigma_min) at t = 1
        zero, one = jnp.zeros_like(t), jnp.ones_like(t)
        np.testing.assert_allclose(path.sample(x0, x1, zero), x0, atol=1e-12)
        alpha1, sigma1, _, _ = path.coefficients(one)
        np.testing.assert_allclose(alpha1, 1.0, atol=1e-12)
        assert float(jnp.max(jnp.abs(sigma1))) <= 0.1 + 1e-12


@pytest.mark.parametrize("name", sorted(PATHS))
def test_conversions_between_velocity_noise_and_data_round_trip(name):
    path = PATHS[name]
    with jax.enable_x64(True):
        x0, x1, t = _points(1)
        xt, v = path.sample(x0, x1, t), path.velocity(x0, x1, t)
        tol = dict(rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(path.x1_from_x0(xt, x0, t), x1, **tol)
        np.testing.assert_allclose(path.x0_from_x1(xt, x1, t), x0, **tol)
        np.testing.assert_allclose(path.velocity_from_x0(xt, x0, t), v, **tol)
        np.testing.assert_allclose(path.velocity_from_x1(xt, x1, t), v, **tol)
        np.testing.assert_allclose(path.x0_from_velocity(xt, v, t), x0, **tol)
        np.testing.assert_allclose(path.x1_from_velocity(xt, v, t), x1, **tol)
        # for arbitrary predictions (not the true endpoints) the maps are mutually inverse too
        p = jax.random.normal(jax.random.key(5), x0.shape, jnp.float64)
        np.testing.assert_allclose(path.x0_from_velocity(xt, path.velocity_from_x0(xt, p, t), t), p, **tol)
        np.testing.assert_allclose(path.x1_from_velocity(xt, path.velocity_from_x1(xt, p, t), t), p, **tol)


def test_score_from_noise_prediction_matches_the_gaussian_conditional_score():
    path = VPCosinePath()
    with jax.enable_x64(True):
        x0, x1, t = _points(2, n=8, d=2)
        xt = path.sample(x0, x1, t)
        alpha, sigma, _, _ = path.coefficients(t)

        def log_p(x, mean, s):  # log N(x; mean, s^2 I) of one point
            return -0.5 * jnp.sum((x - mean) ** 2) / s**2

        score = jax.vmap(jax.grad(log_p))(xt, alpha[:, None] * x1, sigma)
        np.testing.assert_allclose(path.score_from_x0(xt, x0, t), score, rtol=1e-10)


def test_general_affine_path_reproduces_the_named_paths():
    general = GeneralAffinePath(alpha=lambda t: t, sigma=lambda t: 1.0 - 0.9 * t)
    vp = GeneralAffinePath(alpha=lambda t: jnp.sin(0.5 * jnp.pi * t), sigma=lambda t: jnp.cos(0.5 * jnp.pi * t))
    t = jnp.linspace(0.0, 1.0, 11)
    for a, b in ((general, LinearPath(sigma_min=0.1)), (vp, VPCosinePath())):
        for ca, cb in zip(a.coefficients(t), b.coefficients(t)):
            np.testing.assert_allclose(ca, cb, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# couplings


def test_exact_ot_matches_brute_force_on_small_batches():
    partners_fn = jax.jit(exact_ot_partners)
    for seed in range(5):
        x0 = np.asarray(jax.random.normal(jax.random.key(seed), (6, 2)))
        x1 = np.asarray(jax.random.normal(jax.random.key(100 + seed), (6, 2)))
        cost = np.asarray(squared_distances(x0, x1))
        best = min(sum(cost[p[i], i] for i in range(6)) for p in itertools.permutations(range(6)))
        partners = np.asarray(partners_fn(jnp.asarray(x0), jnp.asarray(x1)))
        assert sorted(partners) == list(range(6))
        np.testing.assert_allclose(cost[partners, np.arange(6)].sum(), best, rtol=1e-6)


def test_ot_coupling_cost_is_never_above_independent_pairing():
    coupling = jax.jit(ExactOTCoupling())
    for seed in range(20):
        k0, k1, k2 = jax.random.split(jax.random.key(seed), 3)
        x0 = jax.random.normal(k0, (128, 2))
        x1 = get_dataset("moons").sample(k1, 128)["x"]
        y0, y1 = coupling(k2, x0, x1)
        np.testing.assert_array_equal(y1, x1)  # the data keeps its order (and its labels)
        np.testing.assert_array_equal(np.sort(np.asarray(y0), axis=0), np.sort(np.asarray(x0), axis=0))
        assert float(transport_cost(y0, y1)) <= float(transport_cost(x0, x1)) * (1 + 1e-6)
        assert float(transport_cost(y0, y1)) < 0.8 * float(transport_cost(x0, x1))


def test_exact_ot_under_vmap_equals_per_batch():
    x0 = jax.random.normal(jax.random.key(0), (3, 32, 2))
    x1 = jax.random.normal(jax.random.key(1), (3, 32, 2)) + 1.0
    batched = jax.jit(jax.vmap(exact_ot_partners))(x0, x1)
    for i in range(3):
        np.testing.assert_array_equal(batched[i], exact_ot_partners(x0[i], x1[i]))


def test_sinkhorn_plan_has_uniform_marginals_and_approaches_exact_ot():
    x0 = jax.random.normal(jax.random.key(0), (64, 2))
    x1 = get_dataset("8gaussians").sample(jax.random.key(1), 64)["x"]
    cost = squared_distances(x0, x1)
    exact = float(transport_cost(ExactOTCoupling()(None, x0, x1)[0], x1))
    costs = []
    log_plan = jax.jit(sinkhorn_log_plan, static_argnums=2)
    for eps in (1.0, 0.1, 0.01):
        plan = jnp.exp(log_plan(cost, eps * jnp.mean(cost), 300))
        np.testing.assert_allclose(plan.sum(0), 1 / 64, rtol=1e-4)  # the last update is on columns
        np.testing.assert_allclose(plan.sum(1), 1 / 64, rtol=2e-2)
        costs.append(float(jnp.sum(plan * cost)))
    assert costs[0] > costs[1] > costs[2] >= exact * (1 - 1e-4)
    assert costs[2] < exact * 1.05
    # the coupling draws x0 from the plan's column: data order kept, cost near the plan's
    y0, y1 = jax.jit(SinkhornCoupling(epsilon=0.01, iters=300))(jax.random.key(3), x0, x1)
    np.testing.assert_array_equal(y1, x1)
    assert float(transport_cost(y0, y1)) < 0.8 * float(transport_cost(x0, x1))


def test_annealed_sinkhorn_reaches_near_exact_ot_in_few_iterations():
    # 256 points, 15 iterations: epsilon scaling from 1 to 0.003 (relative to the mean cost)
    # gives a plan within 1% of the exact assignment's excess over the independent coupling;
    # the same 15 iterations at a constant 0.003 are far from converged.
    from scipy.optimize import linear_sum_assignment

    k0, k1, k2 = jax.random.split(jax.random.key(0), 3)
    x0 = jax.random.normal(k0, (256, 2))
    side = jnp.where(jnp.arange(256) % 2 == 0, 2.0, -2.0)
    x1 = 0.3 * jax.random.normal(k1, (256, 2)) + jnp.stack([side, jnp.zeros(256)], -1)  # two blobs
    cost = squared_distances(x0, x1)
    c = np.asarray(cost, np.float64)
    exact = c[linear_sum_assignment(c)].mean()
    indep = float(jnp.mean(jnp.diag(cost)))

    @jax.jit
    def run(cost, key):
        eps = 0.003 * jnp.mean(cost)
        annealed = jnp.exp(sinkhorn_log_plan(cost, eps, 15, jnp.mean(cost)))
        cold = jnp.exp(sinkhorn_log_plan(cost, eps, 15))
        y0, y1 = SinkhornCoupling(epsilon=0.003, iters=15, anneal_from=1.0)(key, x0, x1)
        return annealed, cold, transport_cost(y0, y1)

    annealed, cold, drawn = run(cost, k2)
    np.testing.assert_allclose(annealed.sum(0), 1 / 256, rtol=1e-4)
    # columns are exact after the last update; rows nearly so (total variation), and the cost is
    # that of the exact assignment up to that slack
    tv = lambda plan: 0.5 * float(jnp.sum(jnp.abs(plan.sum(1) - 1 / 256)))  # noqa: E731
    excess = (float(jnp.sum(annealed * cost)) - exact) / (indep - exact)
    assert abs(excess) < 0.02 and tv(annealed) < 0.1, (excess, tv(annealed))
    assert tv(cold) > 2 * tv(annealed), (tv(cold), tv(annealed))
    assert abs(float(drawn) - exact) / (indep - exact) < 0.03, float(drawn)


def test_pairs_coupling_draws_stored_pairs():
    x0 = np.arange(20, dtype=np.float32).reshape(10, 2)
    coupling = PairsCoupling(x0, 2 * x0)
    y0, y1 = coupling(jax.random.key(0), jnp.zeros((6, 2)), jnp.zeros((6, 2)))
    np.testing.assert_array_equal(y1, 2 * y0)
    assert y0.shape == (6, 2) and set(np.asarray(y0[:, 0]) // 2) <= set(range(10))


SHARDED_OT = textwrap.dedent(
    """
    import json, jax, jax.numpy as jnp
    import ml_collections
    from genjax import train
    from tests.conftest import tiny_fm_config
    assert jax.device_count() == 8
    out = {}
    for coupling, seeds in (("exact_ot", 2), ("sinkhorn", 1)):
        c = tiny_fm_config(num_seeds=seeds)
        model = {"name": "flow_matching", "net": "concat_mlp", "hidden": (16,), "coupling": coupling}
        if coupling == "sinkhorn":
            model["sinkhorn_iters"] = 20
        c.model = ml_collections.ConfigDict(model)
        params = {}
        for name, devices in (("multi", jax.devices()), ("single", jax.devices()[:1])):
            trainer = train.Trainer.from_config(c, mesh=train.make_mesh(devices))
            state, m = trainer.run(trainer.init(), 0, 3)
            params[name] = (jax.device_get(state.params), jax.device_get(m["coupling_cost"]))
        (a, ca), (b, cb) = params["multi"], params["single"]
        diff = max(jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x, y: float(abs(x - y).max()), a, b)))
        out[f"{coupling}/{seeds}"] = [diff, float(abs(ca - cb).max())]
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.slow  # eight-device compiles: about a minute on two cores
def test_couplings_under_data_parallel_sharding_equal_single_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", SHARDED_OT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    for name, (param_diff, cost_diff) in result.items():  # OT inside the sharded (and vmapped) step
        assert param_diff < 1e-5 and cost_diff < 1e-5, (name, result)


# ---------------------------------------------------------------------------------------------
# the model


def _cond_model(**kw):
    net = TimeMLP(hidden=(16,), time_dim=8, time_scale=1.0, num_classes=3)
    return FlowMatching(net, (2,), num_classes=3, **kw)


def test_guidance_weights_interpolate_conditional_and_null_fields():
    model = _cond_model()
    x = jax.random.normal(jax.random.key(0), (5, 2))
    label = jnp.array([0, 1, 2, 0, 1])
    params = jax.jit(model.init)(jax.random.key(1), {"x": x, "label": label})
    velocity = jax.jit(model.velocity, static_argnums=4)
    v_cond = velocity(params, x, 0.3, label, 1.0)
    v_null = velocity(params, x, 0.3, jnp.full_like(label, 3), 1.0)
    np.testing.assert_allclose(velocity(params, x, 0.3, label, 0.0), v_null, atol=1e-6)
    np.testing.assert_allclose(velocity(params, x, 0.3, label, 2.5), v_null + 2.5 * (v_cond - v_null),
                               rtol=1e-5, atol=1e-5)
    assert float(jnp.max(jnp.abs(v_cond - v_null))) > 1e-4


def test_label_dropout_replaces_the_expected_fraction_with_the_null_id():
    model = _cond_model(label_dropout=0.25)
    label = jnp.zeros((20000,), jnp.int32)
    dropped = jax.jit(model._train_label)(jax.random.key(0), {"label": label})
    frac = float(jnp.mean(dropped == 3))
    assert abs(frac - 0.25) < 0.015 and set(np.unique(dropped)) == {0, 3}


def test_loss_jit_equals_nojit_with_noise_ot_and_dataset_source():
    from genjax.flow_matching import DatasetSource

    model = FlowMatching(ConcatMLP(hidden=(8,)), (2,), coupling=ExactOTCoupling(), sigma=0.1,
                         source=DatasetSource(get_dataset("8gaussians")))
    batch = get_dataset("moons").sample(jax.random.key(0), 16)
    params = model.init(jax.random.key(1), batch)
    a = model.loss(params, batch, jax.random.key(2))
    b = jax.jit(model.loss)(params, batch, jax.random.key(2))
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6)
    assert set(a[1]) == {"fm_loss", "coupling_cost"}


def test_concat_mlp_matches_torchcfm_layer_layout():
    net = ConcatMLP(hidden=(64, 64, 64), activation="selu")
    params = net.init(jax.random.key(0), jnp.zeros((1, 2)), jnp.zeros((1,)))
    shapes = [(k, v["kernel"].shape) for k, v in params["params"].items()]
    assert shapes == [("Dense_0", (3, 64)), ("Dense_1", (64, 64)), ("Dense_2", (64, 64)), ("Dense_3", (64, 2))]


@pytest.mark.parametrize("spec, nfe", [("euler@1", 1), ("euler@4", 4), ("midpoint@1", 2), ("heun@2", 4)])
def test_few_step_samplers_use_the_stated_nfe(spec, nfe):
    model = FlowMatching(ConcatMLP(hidden=(8,)), (2,))
    params = model.init(jax.random.key(0), {"x": jnp.zeros((4, 2))})
    x, stats = model.sample_with_stats(params, jax.random.key(1), 16, sampler=spec)
    assert int(stats["nfe"]) == nfe and x.shape == (16, 2)
    if spec == "euler@1":  # one Euler step is x0 + v(x0, 0)
        x0 = model.source.sample(jax.random.key(1), 16)
        np.testing.assert_allclose(x, x0 + model.velocity(params, x0, 0.0), rtol=1e-6, atol=1e-6)
    assert ode_config(model.parse_sampler(spec), model.solver).steps == int(spec.split("@")[1])


def test_path_statistics_of_a_constant_field_are_exact():
    class Constant(nn.Module):  # v = c whatever x and t: straight paths, energy |c|^2
        @nn.compact
        def __call__(self, x, t, label=None):
            return jnp.broadcast_to(self.param("c", lambda k: jnp.array([3.0, -4.0])), x.shape)

    model = FlowMatching(Constant(), (2,), coupling=independent_coupling)
    params = model.init(jax.random.key(0), {"x": jnp.zeros((4, 2))})
    stats = model.path_statistics(params, jax.random.key(1), 128)
    np.testing.assert_allclose(stats["path_energy"], 25.0, rtol=1e-5)
    assert abs(float(stats["straightness"])) < 1e-4
    np.testing.assert_allclose(stats["x1"] - stats["x0"], np.broadcast_to([3.0, -4.0], (128, 2)), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# config


def _config(**model):
    c = default_config()
    c.data.name = "moons"
    c.model = ml_collections.ConfigDict({"name": "flow_matching", "net": "concat_mlp", "hidden": (8,), **model})
    return c


@pytest.mark.parametrize(
    "model, fragment",
    [
        (dict(coupling="hungarian"), "model.coupling"),
        (dict(source="mnist1d"), "model.source"),
        (dict(source="nope"), "model.source"),
        (dict(coupling="pairs", pairs="/nonexistent.npz"), "model.pairs"),
        (dict(path="vp_cosine", sigma_min=0.1), "model.sigma_min"),
        (dict(net="linear", activation="relu"), "model.activation"),
        (dict(conditional=True, data="swissroll"), "model.conditional"),
        (dict(sinkhorn_epsilon=0.1), "model.sinkhorn_epsilon"),
    ],
)
def test_config_errors_name_the_key(model, fragment):
    data = model.pop("data", "moons")
    c = _config(**model)
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        registry.build_model(c.model, get_dataset(data))


def test_builder_wires_couplings_sources_and_pairs(tmp_path):
    ds = get_dataset("moons")
    m = registry.build_model(_config(coupling="exact_ot", source="8gaussians", sigma=0.1).model, ds)
    assert isinstance(m.coupling, ExactOTCoupling) and m.sigma == 0.1
    assert m.source.sample(jax.random.key(0), 5).shape == (5, 2)
    m = registry.build_model(_config(coupling="sinkhorn", sinkhorn_epsilon=0.02, path="vp_cosine").model, ds)
    assert m.coupling == SinkhornCoupling(0.02, 100) and isinstance(m.path, VPCosinePath)
    path = save_pairs(tmp_path / "p.npz", np.zeros((7, 2)), np.ones((7, 2)))
    m = registry.build_model(_config(coupling="pairs", pairs=str(path)).model, ds)
    assert isinstance(m.coupling, PairsCoupling) and m.coupling.num_pairs == 7
    m = registry.build_model(_config(conditional=True, eval_guidance=(0.0, 1.0)).model, ds)
    assert m.num_classes == 2 and m.label_dropout == 0.1 and m.eval_guidance == (0.0, 1.0)


@pytest.mark.slow  # two tiny trainings and evaluations
def test_reflow_rounds_chain_runs_through_pairs_files(tmp_path, capsys):
    from experiments.reflow_rounds import main as reflow_main
    from genjax.cli import main as cli_main

    workdir = tmp_path / "rf"
    argv = ["--config", "experiments/rf_moons.py", "--workdir", str(workdir), "--reflows", "1", "--pairs", "512",
            "--config.train.steps=20", "--config.train.steps_per_dispatch=10", "--config.train.progress=False",
            "--config.train.plot=False", "--config.eval.repeats=1", "--config.eval.num_samples=200",
            "--config.eval.samplers=euler@1"]
    assert reflow_main(argv) == 0
    saved = json.loads((workdir / "rf2" / "config.json").read_text())
    assert saved["model"]["coupling"] == "pairs" and saved["model"]["pairs"] == str(workdir / "rf2" / "pairs.npz")
    with np.load(workdir / "rf2" / "pairs.npz") as f:
        assert f["x0"].shape == f["x1"].shape == (512, 2)
    assert cli_main(["eval", "--workdir", str(workdir / "rf2")]) == 0
    out = capsys.readouterr().out
    assert "straightness" in out and "w2/euler@1" in out


def test_extra_metrics_report_path_and_class_statistics():
    c = _config(conditional=True, eval_guidance=(2.0,), ode={"solver": "heun", "steps": 4})
    ds = get_dataset("moons")
    model = registry.build_model(c.model, ds)
    batch = ds.test_batch(64)
    params = model.init(jax.random.key(0), batch)
    out = model.extra_metrics(params, jax.random.key(1), batch)
    assert set(out) == {"w2sq_source_data", "npe", "path_energy", "straightness", "nfe_path", "w2_class/w=2"}
    assert out["nfe_path"] == 8 and all(np.isfinite(v) for v in out.values())
    # the energy identity behind straightness: energy >= |x1 - x0|^2 on average (Jensen), up to the solver
    assert out["straightness"] > -1e-3 * out["path_energy"]
    assert model.extra_metrics(params, jax.random.key(1), ds.test_batch(32))["nfe_path"] == 8  # other sizes too
