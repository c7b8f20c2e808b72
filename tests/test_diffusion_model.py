"""The diffusion Model contract: builders, jit/vmap/batching, the trainer, images on mock tfds."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from genjax import cli, train
from genjax import config as gconfig
from genjax import data as gdata
from genjax.ode import ODESolverConfig
from genjax.diffusion import (
    MODELS,
    VPSDE,
    Affine,
    ContinuousTimes,
    Diffusion,
    GaussianData,
    ODELikelihood,
    OracleEps,
    parse_sampler,
)
from genjax.errors import ConfigError
from tests.conftest import tiny_fm_config


def tiny_diffusion_config(name="ddpm", **model):
    c = tiny_fm_config()
    c.model = ml_collections.ConfigDict({"name": name, "hidden": (16, 16), "time_dim": 8, **model})
    return c


def _build(name, dataset="moons", **model):
    return MODELS[name].build(ml_collections.ConfigDict({"name": name, "hidden": (16, 16), "time_dim": 8, **model}),
                        gdata.get_dataset(dataset))


@pytest.mark.parametrize(
    "model, expected",
    [
        ({"sampler": "ddim@5:eta=2"}, ["model.sampler", "eta"]),
        ({"sampler": "rk4@5"}, ["model.sampler", "ddpm", "heun[@steps]"]),
        ({"net": "unet"}, ["model.net", "image"]),
        ({"prediction": "noise"}, ["model.prediction", "eps"]),
        ({"prediction": "v", "x0_bound": 1.0}, ["model.x0_bound", "eps"]),
        ({"x0_bound": 1.0, "x0_bound_width": 2.0}, ["model.x0_bound_width", "(0, x0_bound"]),
        ({"variance": "medium"}, ["model.variance", "large"]),
        ({"hiden": (8,)}, ["model.hiden", "not used"]),
    ],
)
def test_config_errors_name_the_key(model, expected):
    with pytest.raises(ConfigError) as e:
        _build("ddpm", **model)
    for word in expected:
        assert word in str(e.value)


def test_conditional_model_needs_labels_and_the_cli_error_is_one_line(capsys, tmp_path):
    with pytest.raises(ConfigError, match="model.conditional"):
        _build("score_sde", dataset="swissroll", conditional=True)
    with pytest.raises(ConfigError, match="model.sde"):
        _build("score_sde", sde="vee")
    code = cli.main(["train", "--config", "experiments/ddpm_moons.py", "--workdir", str(tmp_path),
                     "--config.model.sampler=ddim@x"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "model.sampler" in err


def test_sampler_specs_parse_to_their_options():
    s = parse_sampler("pc@20:snr=0.1:corrector_steps=2")
    assert (s.steps, s.snr, s.corrector_steps) == (20, 0.1, 2)
    assert parse_sampler("ode").steps is None and parse_sampler("ode@8:solver=euler").solver == "euler"
    # every ODE solver name is the probability-flow ODE with that solver
    s = parse_sampler("heun@8")
    assert (type(s).__name__, s.solver, s.steps) == ("ProbabilityFlow", "heun", 8)
    assert parse_sampler("tsit5:rtol=1e-3").rtol == 1e-3
    for bad in ("ddim@0", "pc@5:snr", "ode:solver=rk99", "ald@5:eps=x", "fancy@3", "default"):
        with pytest.raises(ValueError):
            parse_sampler(bad)


@pytest.mark.parametrize("name, options", [
    ("score_sde", {}),
    pytest.param("ddpm", {"num_steps": 20, "loss": "vlb", "prediction": "v"}, marks=pytest.mark.slow),
    pytest.param("ncsn", {"loss": "ssm_vr"}, marks=pytest.mark.slow),
])
def test_jit_equals_eager_and_vmap_over_params_equals_each_seed(name, options):
    model = _build(name, **options)
    ds = gdata.get_dataset("moons")
    batch = ds.sample(jax.random.key(0), 32)
    keys = jax.random.split(jax.random.key(1), 2)
    params = jax.vmap(lambda k: model.init(k, batch))(keys)
    one = jax.tree_util.tree_map(lambda p: p[0], params)
    key = jax.random.key(2)
    loss_eager = model.loss(one, batch, key)[0]
    assert float(jax.jit(model.loss)(one, batch, key)[0]) == pytest.approx(float(loss_eager), rel=1e-5)
    vmapped = jax.vmap(lambda p: model.loss(p, batch, key)[0])(params)
    assert float(vmapped[0]) == pytest.approx(float(loss_eager), rel=1e-5)
    spec = "ddim@4" if name != "ncsn" else "ald@3"
    x_eager = model.sample(one, key, 8, sampler=spec)
    x_jit = jax.jit(lambda p, k: model.sample(p, k, 8, sampler=spec))(one, key)
    np.testing.assert_allclose(x_jit, x_eager, rtol=1e-4, atol=1e-5)
    xs = jax.jit(jax.vmap(lambda p: model.sample(p, key, 8, sampler=spec)))(params)
    np.testing.assert_allclose(xs[0], x_eager, rtol=1e-4, atol=1e-5)


def test_batched_decoding_and_likelihood_equal_per_example():
    model = _build("score_sde", ode={"rtol": 1e-6, "atol": 1e-6})
    ds = gdata.get_dataset("moons")
    batch = ds.sample(jax.random.key(0), 6)
    params = model.init(jax.random.key(1), batch)
    z = jax.random.normal(jax.random.key(2), (6, 2))
    decode = jax.jit(lambda z: model.decode(params, z, steps=6))
    whole = decode(z)
    for i in range(6):
        np.testing.assert_allclose(decode(z[i : i + 1])[0], whole[i], rtol=1e-5, atol=1e-6)
    log_prob = jax.jit(lambda x: model.log_prob(params, x))
    lp = log_prob(batch["x"])
    # one adaptive step sequence per batch: equal up to the solver's tolerance
    np.testing.assert_allclose(log_prob(batch["x"][:2]), lp[:2], atol=1e-3)
    np.testing.assert_allclose(log_prob(batch["x"][3:5]), lp[3:5], atol=1e-3)


def test_log_prob_of_an_exact_model_in_a_rescaled_space_is_the_data_density():
    """Data x in [0, 1]-ish, model space y = 2x - 1 carrying N(mu, Sigma): log p(x) = log p_y(2x - 1) + D log 2."""
    with jax.enable_x64(True):
        sde = VPSDE()
        data_y = GaussianData(jnp.array([0.3, -0.2]), jnp.array([[0.2, 0.05], [0.05, 0.1]]))
        model = Diffusion(OracleEps(data_y, sde), (2,), sde=sde, times=ContinuousTimes(1e-5),
                          transform=Affine(2.0, -1.0),
                          likelihood=ODELikelihood(solver=ODESolverConfig(rtol=1e-8, atol=1e-8)))
        y = data_y.sample(jax.random.key(3), 8)
        x = (y + 1.0) / 2.0
        lp = jax.jit(lambda x: model.log_prob({}, x))(x)
        # the VP prior N(0, I) differs from p_1 by O(m(1)) = 0.7%: compare at 1e-2
        np.testing.assert_allclose(lp, data_y.log_prob(y) + 2 * np.log(2.0), atol=1e-2)
        # the prior part: all covariances m^2 Sigma + s^2 I commute, so the PF-ODE is the affine map
        # y_t = m_t mu + C_t^{1/2} C_0^{-1/2} (y - m_0 mu) with C_t = m_t^2 Sigma + s_t^2 I
        _, stats = jax.jit(lambda x: model.log_prob_with_stats({}, x))(x)

        def cov_power(t, power):
            m, s = sde.marginal(t)
            w, v = jnp.linalg.eigh(m**2 * data_y.cov + s**2 * jnp.eye(2))
            return (v * w**power) @ v.T, m

        c0, m0 = cov_power(1e-5, -0.5)
        c1, m1 = cov_power(1.0, 0.5)
        y_T = m1 * data_y.mean + (y - m0 * data_y.mean) @ (c1 @ c0).T
        np.testing.assert_allclose(stats["prior_logp"], sde.prior_logp(y_T), rtol=1e-5)


@pytest.mark.slow  # the trainer's compile and evaluation; every experiment run exercises it too
def test_train_and_evaluate_reports_samplers_and_likelihood(tmp_path):
    c = tiny_diffusion_config("ddpm", num_steps=20)
    c.train.steps = 10
    c.eval.samplers = ("ddim@5", "pc@5")
    results = train.train_and_evaluate(c, tmp_path / "ddpm")
    for key in ("w2/ddim@5", "w2/pc@5", "nll", "w2_floor"):
        assert key in results and np.isfinite(results[key]), key
    assert results["nfe/ddim@5"] == 5.0 and results["nfe/pc@5"] == 10.0


def _mock_image_run(experiment):
    """The GPU experiment's config, shrunk (widths, steps, batch), for one step on mock data."""
    c = gconfig.load_config_file(f"experiments/{experiment}.py")
    c.model.update({"num_steps": 10, "channels": 8, "num_res_blocks": 1, "groups": 4})
    c.data.batch_size = 4
    c.train.update({"steps": 1, "steps_per_dispatch": 1, "progress": False, "plot": False, "warmup_steps": 0})
    trainer = train.Trainer.from_config(c)
    state = trainer.init()
    init_params = jax.tree_util.tree_map(np.asarray, state.params)  # run() donates the state
    state, metrics = trainer.run(state, 0, 1)
    assert np.all(np.isfinite(metrics["loss"]))
    changed = [not np.allclose(a, b) for a, b in zip(jax.tree_util.tree_leaves(init_params),
                                                      jax.tree_util.tree_leaves(state.params))]
    assert any(changed)
    return trainer, init_params, state


@pytest.mark.slow  # compiling the UNet's init and train step takes about a minute of CPU
def test_unet_on_mock_tfds_mnist_trains_and_conditions_on_labels():
    """One training step of experiments/ddpm_mnist.py (narrower) on mock MNIST: a class-conditional
    DDPM whose UNet goes down to an odd 7x7 level; and the UNet's contract: zero output at init,
    labels matter, examples do not interact (GroupNorm is per example)."""
    with tfds.testing.mock_data(num_examples=16):
        trainer, init_params, state = _mock_image_run("ddpm_mnist")
        x = jnp.asarray(trainer.dataset.test_batch()["x"][:2])
    assert x.shape == (2, 28, 28, 1)
    apply = jax.jit(trainer.model.net.apply)
    t = jnp.array([0.1, 0.9])
    assert float(jnp.max(jnp.abs(apply(init_params, x, t, jnp.array([3, 10]))))) == 0.0
    # the zero-initialised convs hide the labels at first: perturb every parameter
    leaves, tree = jax.tree_util.tree_flatten(state.params)
    keys = jax.random.split(jax.random.key(0), len(leaves))
    params = jax.tree_util.tree_unflatten(tree, [p + 0.05 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])
    a = apply(params, x, t, jnp.array([3, 3]))
    b = apply(params, x, t, jnp.array([4, 4]))
    assert a.shape == x.shape and float(jnp.max(jnp.abs(a - b))) > 1e-4
    c = apply(params, x[::-1], t[::-1], jnp.array([3, 3]))
    np.testing.assert_allclose(c[::-1], a, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_unet_diffusion_on_mock_tfds_cifar10_trains_samples_and_scores():
    with tfds.testing.mock_data(num_examples=16):
        trainer, _, state = _mock_image_run("ddpm_cifar10")
        test = jnp.asarray(trainer.dataset.test_batch()["x"][:2])
    model = trainer.model
    x = jax.jit(lambda p, k: model.sample(p, k, 2, sampler="ddim@2", label=1, guidance=2.0))(state.params, jax.random.key(0))
    assert x.shape == (2, 32, 32, 3) and bool(jnp.all(jnp.isfinite(x)))
    lp = jax.jit(lambda p, x: model.log_prob(p, x, jax.random.key(1)))(state.params, test)
    assert lp.shape == (2,) and bool(jnp.all(jnp.isfinite(lp)))
