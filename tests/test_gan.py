"""Adversarial models: the two-group train step (pure, jit, seeds, devices, checkpoints), the DDGAN
posterior against the diffusion family's closed form, R1 by hand, the posterior chain's
marginals, spectral norm against the SVD, mode coverage, and config errors."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import data, diffusion, gan, train
from genjax.errors import ConfigError
from genjax.metrics import mode_coverage
from genjax.train.step import make_train_step
from tests.conftest import tiny_fm_config
from tests.test_train import _max_diff, _run_python, sharded_script


def tiny_config(name: str = "ddgan", **train_keys) -> ml_collections.ConfigDict:
    """A tiny GAN / DDGAN on 25gaussians with lazy R1, own optimisers per group, two critic steps."""
    c = tiny_fm_config(**{"steps": 4, "log_every": 2, "checkpoint_every": 2, "schedule": "constant", **train_keys})
    c.data.name = "25gaussians"
    c.data.batch_size = 32
    c.model = ml_collections.ConfigDict({"name": name, "gen_hidden": (16, 16), "disc_hidden": (16, 16),
                                         "latent_dim": 3, "r1_gamma": 0.5, "r1_every": 2, "n_critic": 2 if name == "gan" else 1})
    if name == "ddgan":
        c.model.num_steps = 4
        c.model.time_dim = 8
    c.train.groups = ml_collections.ConfigDict({"disc": {"lr": 3e-3, "b1": 0.5}})
    c.eval.num_samples = 100
    return c


def tiny_gan_config(**train_keys):
    return tiny_config("gan", **train_keys)


@pytest.fixture(scope="module", params=["gan", pytest.param("ddgan", marks=pytest.mark.slow)])
def setup(request):
    config = tiny_config(request.param)
    trainer = train.Trainer.from_config(config)
    step = make_train_step(trainer.model, trainer.tx, ema_decay=config.train.ema_decay, schedule=trainer.schedule)
    batch = trainer.dataset.train_batch(jax.random.key(0), 0, config.data.batch_size)
    return trainer, trainer.init(), step, jax.jit(step), batch


# ---------------------------------------------------------------------------------------------
# the adversarial train step


def test_adversarial_step_is_pure_and_deterministic(setup):
    trainer, state, step, jitted, batch = setup
    assert set(state.params) == set(state.opt_state) == {"gen", "disc"}
    a, ma = jitted(state, batch)
    b, mb = jitted(state, batch)
    jax.tree_util.tree_map(np.testing.assert_array_equal, (a, ma), (b, mb))  # bitwise, same seed and step
    # both groups moved, each with its own optimiser (the disc's lr and b1 from train.groups.disc)
    assert _max_diff(a.params["gen"], state.params["gen"]) > 0 and _max_diff(a.params["disc"], state.params["disc"]) > 0
    n_critic = trainer.model.update_plan[0].repeats
    assert int(a.opt_state["disc"][1][0].count) == n_critic and int(a.opt_state["gen"][1][0].count) == 1
    # the EMA of the parameters (the generator's is what evaluation samples) moved toward them
    decay = trainer.config.train.ema_decay
    for e, p0, p1 in zip(*(jax.tree_util.tree_leaves(t["gen"]) for t in (a.ema_params, state.params, a.params))):
        np.testing.assert_allclose(e, decay * p0 + (1 - decay) * p1, rtol=1e-5, atol=1e-7)
    # lazy R1 (every 2 steps) is a function of the step inside the program: at step 0, not at step 1
    assert float(ma["disc/r1"]) > 0
    _, m1 = jitted(state.replace(step=state.step + 1), batch)
    assert float(m1["disc/r1"]) == 0.0 and float(m1["disc/loss"]) != float(ma["disc/loss"])


@pytest.mark.slow
def test_adversarial_step_jit_equals_eager(setup):
    trainer, state, step, jitted, batch = setup
    a, ma = jitted(state, batch)
    c, mc = step(state, batch)
    assert _max_diff(a, c) < 1e-5
    for name in ("disc/loss", "disc/r1", "gen/loss", "loss"):
        np.testing.assert_allclose(ma[name], mc[name], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_adversarial_step_vmaps_over_seeds(setup):
    """Two steps of two vmapped seeds (R1 at the first, not the second: the lazy branch under
    vmap) equal each seed's own jitted steps."""
    trainer, _, step, jitted, batch = setup
    keys = jax.random.split(jax.random.key(4), 2)
    seeds = jax.jit(jax.vmap(lambda k: train.init_state(trainer.model, trainer.tx, k, batch)))(keys)
    vstep = jax.jit(jax.vmap(step, in_axes=(0, None)))
    stacked = seeds
    for _ in range(2):
        stacked, _ = vstep(stacked, batch)
    for i in range(2):
        one = jax.tree_util.tree_map(lambda x, i=i: x[i], seeds)
        for _ in range(2):
            one, _ = jitted(one, batch)
        assert _max_diff(jax.tree_util.tree_map(lambda x, i=i: x[i], stacked), one) < 1e-5
    assert _max_diff(jax.tree_util.tree_map(lambda x: x[0], stacked.params),
                     jax.tree_util.tree_map(lambda x: x[1], stacked.params)) > 1e-3


def _sharded(factory: str, seeds: tuple[int, ...]):
    out = _run_python(sharded_script(f"tests.test_gan:{factory}", seeds),
                      {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
    result = json.loads(out.split("RESULT", 1)[1])
    for seeds, r in result.items():
        assert r["devices"] == [8, 1], r
        assert r["param_diff"] < 1e-5 and r["loss_diff"] < 1e-5, (seeds, r)


@pytest.mark.slow
def test_sharded_ddgan_step_equals_single_device():
    """Three scanned steps on 8 devices (batch split, state replicated) equal one device's, for one
    and two vmapped seeds."""
    _sharded("tiny_config", (1, 2))


def test_checkpoint_holds_both_groups(setup, tmp_path):
    trainer, state, _, jitted, batch = setup
    state, _ = jitted(state, batch)
    ckpt = train.Checkpointer(tmp_path / "ckpt")
    ckpt.save(1, state)
    ckpt.wait()
    restored, step = ckpt.restore(trainer.abstract_state())
    ckpt.close()
    assert step == 1 and set(restored.opt_state) == {"gen", "disc"}
    jax.tree_util.tree_map(np.testing.assert_array_equal, restored, state)


@pytest.mark.slow
def test_adversarial_run_resumes_bitwise(tmp_path):
    config = tiny_config("gan", steps=6, steps_per_dispatch=2)
    train.train_and_evaluate(config, tmp_path / "full")
    train.train_and_evaluate(tiny_config("gan", steps=2, steps_per_dispatch=2), tmp_path / "pieces")
    results = train.train_and_evaluate(config, tmp_path / "pieces")
    a = train.restore_for_eval(config, tmp_path / "full")[1]
    b = train.restore_for_eval(config, tmp_path / "pieces")[1]
    assert _max_diff(a, b) == 0.0
    assert {"modes_covered", "high_quality", "w2/default", "w2_floor"} <= set(results)


# ---------------------------------------------------------------------------------------------
# DDGAN's process


def _ddgan(num_steps=4, **model):
    dataset = data.get_dataset("25gaussians")
    cfg = ml_collections.ConfigDict({"name": "ddgan", "num_steps": num_steps, "gen_hidden": (8,), "disc_hidden": (8,),
                                     "time_dim": 8, **model})
    return gan.build_ddgan(cfg, dataset)


def test_ddgan_posterior_is_the_diffusion_familys_closed_form():
    """``q(x_k | x_{k+1}, x0)`` of DDGAN is ``genjax.diffusion.posterior`` on its schedule, and both
    equal DDPM's eqs. 6-7 written from the betas; at ``k = 0`` it is ``x0`` exactly."""
    with jax.enable_x64(True):
        model = _ddgan(num_steps=4, beta_min=0.1, beta_max=20.0)
        betas = diffusion.vp_betas(4, 0.1, 20.0, 1e-3)
        abar = np.concatenate([[1.0], np.cumprod(1 - betas)])
        x0 = jax.random.normal(jax.random.key(0), (6, 2), jnp.float64)
        xn = jax.random.normal(jax.random.key(1), (6, 2), jnp.float64)
        k = jnp.array([0, 1, 2, 3, 1, 2])
        mean, var = model.posterior(x0, xn, k)
        ref_mean, ref_var = diffusion.posterior(model.sde, x0, xn, k / 4.0, (k + 1) / 4.0)
        np.testing.assert_array_equal(mean, ref_mean)
        np.testing.assert_array_equal(var, ref_var)
        kk = np.asarray(k)
        beta, ab, ab_prev = betas[kk], abar[kk + 1], abar[kk]
        hand_mean = (np.sqrt(ab_prev) * beta / (1 - ab))[:, None] * x0 + \
                    (np.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab))[:, None] * xn
        np.testing.assert_allclose(mean, hand_mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(var, beta * (1 - ab_prev) / (1 - ab), rtol=1e-9, atol=1e-15)
        assert float(var[0]) == 0.0
        np.testing.assert_allclose(mean[0], x0[0], rtol=1e-12)


@pytest.mark.parametrize("num_steps", [pytest.param(2, marks=pytest.mark.slow), 4, pytest.param(8, marks=pytest.mark.slow)])
def test_perfect_x0_predictor_reproduces_the_forward_marginals(num_steps):
    """From ``x_T ~ q(x_T | x0)``, T posterior steps with ``x0_hat = x0`` visit ``x_k ~ q(x_k | x0)``:
    mean ``m_k x0`` and variance ``s_k^2`` at every ``k``, within four standard errors."""
    model = _ddgan(num_steps)
    n, x0 = 40_000, jnp.array([[1.2, -0.7]])
    key_T, key_chain = jax.random.split(jax.random.key(num_steps))
    x_T = model.sde.perturb(jnp.broadcast_to(x0, (n, 2)), 1.0, jax.random.normal(key_T, (n, 2)))
    final, path = jax.jit(lambda x, k: model.reverse_chain(lambda xn, step, kk: jnp.broadcast_to(x0, xn.shape), k, x))(
        x_T, key_chain)
    np.testing.assert_allclose(final, jnp.broadcast_to(x0, (n, 2)), rtol=1e-6)  # the k = 0 step returns x0
    for i in range(num_steps):
        k = num_steps - 1 - i
        m, s = model.sde.marginal(model.time(k))
        xs = np.asarray(path[i], np.float64)
        se_mean = float(s) / np.sqrt(n) + 1e-7
        np.testing.assert_allclose(xs.mean(0), float(m) * np.asarray(x0[0]), atol=4 * se_mean)
        if k > 0:
            np.testing.assert_allclose(xs.var(0), float(s) ** 2, rtol=4 * np.sqrt(2 / n))


def test_ddgan_forward_pairs_follow_the_process():
    """``(x_k, x_{k+1})``: ``x_{k+1} | x0`` has the marginal of step ``k + 1``."""
    model = _ddgan(4)
    n, x0 = 40_000, jnp.full((40_000, 2), 0.8)
    k = jnp.full((n,), 1)
    x_k, x_next = model.forward_pair(jax.random.key(3), x0, k)
    for x, step in ((x_k, 1), (x_next, 2)):
        m, s = model.sde.marginal(model.time(step))
        np.testing.assert_allclose(np.mean(x, 0), float(m) * 0.8, atol=4 * float(s) / np.sqrt(n))
        np.testing.assert_allclose(np.var(x, 0), float(s) ** 2, rtol=4 * np.sqrt(2 / n))


def test_samplers_nfe_and_truncation():
    model = _ddgan(3)
    batch = data.get_dataset("25gaussians").test_batch(16)
    params = model.init(jax.random.key(0), batch)
    # One compiled program per sampler: eager dispatch of the tiny networks costs more than the maths.
    x, stats = jax.jit(lambda p, k: model.sample_with_stats(p, k, 16, sampler="posterior:truncation=0.5"))(
        params, jax.random.key(1))
    assert x.shape == (16, 2) and int(stats["nfe"]) == 3 and np.all(np.isfinite(x))
    g = gan.build_gan(ml_collections.ConfigDict({"name": "gan", "gen_hidden": (8,), "disc_hidden": (8,)}),
                      data.get_dataset("25gaussians"))
    gp = g.init(jax.random.key(0), batch)
    x0, stats = jax.jit(lambda p, k: g.sample_with_stats(p, k, 5, sampler="generator:truncation=0"))(
        gp, jax.random.key(1))
    assert int(stats["nfe"]) == 1
    np.testing.assert_allclose(x0, jnp.broadcast_to(x0[0], x0.shape))  # z = 0 for every sample


# ---------------------------------------------------------------------------------------------
# R1, spectral norm, losses


class Quadratic(nn.Module):
    """``D(x) = x^T A x + b^T x``, per example."""

    @nn.compact
    def __call__(self, x, t=None, cond=None):
        a = self.param("A", lambda k, s: jax.random.normal(k, s), (2, 2))
        b = self.param("b", lambda k, s: jax.random.normal(k, s), (2,))
        return jnp.einsum("ni,ij,nj->n", x, a, x) + x @ b


def test_r1_penalty_equals_the_hand_computation_on_a_quadratic_discriminator():
    disc = Quadratic()
    x = jax.random.normal(jax.random.key(0), (7, 2))
    p = disc.init(jax.random.key(1), x)
    a, b = np.asarray(p["params"]["A"]), np.asarray(p["params"]["b"])
    hand = np.sum((np.asarray(x) @ (a + a.T) + b) ** 2, axis=1)  # |(A + A^T) x + b|^2
    np.testing.assert_allclose(gan.r1_penalty(lambda y: disc.apply(p, y), x), hand, rtol=1e-5)
    # through the GAN's discriminator loss: lazy (every 3 steps, weight 3 * gamma / 2) at step 0 only
    model = gan.GAN(gan.MLPGenerator((2,), hidden=(4,)), disc, (2,), latent_dim=2, r1_gamma=0.4, r1_every=3)
    params = {"gen": model.generator.init(jax.random.key(2), jnp.zeros((1, 2))), "disc": p}
    batch = {"x": x}
    on, m_on = model.disc_loss(params, batch, jax.random.key(3), jnp.asarray(0))
    off, m_off = model.disc_loss(params, batch, jax.random.key(3), jnp.asarray(1))
    np.testing.assert_allclose(on - off, 3 * 0.4 / 2 * hand.mean(), rtol=1e-5)
    np.testing.assert_allclose(m_on["r1"], hand.mean(), rtol=1e-5)
    assert float(m_off["r1"]) == 0.0 and float(m_on["adv"]) == float(m_off["adv"])


def test_adversarial_losses():
    real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
    r, f = gan.disc_loss_terms("non_saturating", real, fake)
    np.testing.assert_allclose(r, -np.log(1 / (1 + np.exp(-np.asarray(real)))), rtol=1e-6)  # -log D(real)
    np.testing.assert_allclose(f, -np.log(1 - 1 / (1 + np.exp(-np.asarray(fake)))), rtol=1e-6)  # -log(1 - D(fake))
    np.testing.assert_allclose(gan.gen_loss_terms("non_saturating", fake), -np.log(1 / (1 + np.exp(-np.asarray(fake)))),
                               rtol=1e-6)
    r, f = gan.disc_loss_terms("hinge", real, fake)
    np.testing.assert_allclose(r, [0.0, 2.0]) and np.testing.assert_allclose(f, [1.5, 0.0])
    np.testing.assert_allclose(gan.gen_loss_terms("hinge", fake), -fake)


def test_spectral_norm_matches_the_svd_and_its_gradient():
    w = jax.random.normal(jax.random.key(0), (12, 7)) @ jnp.diag(jnp.array([3.0, 1, 1, 0.5, 0.5, 0.2, 0.1]))
    svd_norm = lambda m: jnp.linalg.svd(m, compute_uv=False)[0]  # noqa: E731
    np.testing.assert_allclose(gan.spectral_norm(w, iters=50), svd_norm(w), rtol=1e-5)
    np.testing.assert_allclose(jax.grad(lambda m: gan.spectral_norm(m, iters=50))(w), jax.grad(svd_norm)(w), atol=1e-4)
    layer = gan.SNDense(7, spectral=True, iters=50)
    x = jnp.ones((3, 12))
    params = layer.init(jax.random.key(1), x)
    kernel = params["params"]["kernel"]
    effective = jax.jacfwd(lambda v: layer.apply(params, v[None])[0])(jnp.zeros(12))  # [7, 12]: kernel / sigma
    np.testing.assert_allclose(svd_norm(effective), 1.0, rtol=1e-4)
    np.testing.assert_allclose(effective.T * svd_norm(kernel), kernel, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# mode coverage


def test_mode_coverage_of_the_data_and_of_collapsed_samples():
    dataset = data.get_dataset("25gaussians")
    modes = dataset.modes
    x = np.asarray(dataset.sample(jax.random.key(0), 20_000)["x"])
    m = mode_coverage(x, modes.centers, modes.std)
    p = 1 - np.exp(-4.5)  # P(|N_2| < 3) in two dimensions
    assert m["modes_covered"] == 25
    assert abs(m["high_quality"] - p) < 4 * np.sqrt(p * (1 - p) / len(x)), m
    assert m["mode_kl"] < 0.01
    one = np.asarray(modes.centers)[3] + modes.std * np.asarray(jax.random.normal(jax.random.key(1), (2500, 2)))
    m = mode_coverage(one, modes.centers, modes.std)
    assert m["modes_covered"] == 1 and m["mode_kl"] == pytest.approx(np.log(25))
    # 20 samples on a mode of 2500 (a fifth of its share) cover it; 19 do not
    centers = np.asarray(modes.centers)
    x = np.concatenate([np.repeat(centers[:1], 20, 0), np.repeat(centers[1:2], 19, 0),
                        np.full((2500 - 39, 2), 10.0)])
    m = mode_coverage(x, centers, modes.std)
    assert m["modes_covered"] == 1 and m["high_quality"] == pytest.approx(39 / 2500)


@pytest.mark.slow
def test_oracle_ddpm_of_the_benchmark_takes_per_example_times():
    """The mixture's density and exact eps at a sampler's ``[batch]`` times equal the closed form
    row by row, so the benchmark's exact-posterior DDPM rows sample."""
    from benchmarks.gan_25gaussians import oracle_ddpm

    dataset = data.get_dataset("25gaussians")
    model = oracle_ddpm(2, dataset)
    mixture, sde = model.net.data, model.net.sde
    x = jnp.asarray(dataset.sample(jax.random.key(0), 6)["x"]) * 0.7
    t = jnp.linspace(0.1, 0.9, 6)

    def log_p(xi, ti):  # the mixture of the components' marginals N(m mu_k, m^2 Sigma_k + s^2 I), by scipy
        comps = [jax.scipy.stats.multivariate_normal.logpdf(xi, *mixture.component(k).marginal(sde, ti))
                 for k in range(mixture.weights.shape[0])]
        return jax.scipy.special.logsumexp(jnp.log(mixture.weights) + jnp.stack(comps))

    def eps(xi, ti):
        return -sde.marginal(ti)[1] * jax.grad(log_p)(xi, ti)

    for fn, ref in ((mixture.log_prob, log_p), (mixture.eps, eps)):
        got = jax.jit(lambda x, t, fn=fn: fn(x, sde, t))(x, t)
        np.testing.assert_allclose(got, jax.jit(jax.vmap(ref))(x, t), rtol=1e-5, atol=1e-6)
    samples = model.sample({}, jax.random.key(1), 64)
    assert samples.shape == (64, 2) and bool(jnp.all(jnp.isfinite(samples)))


# ---------------------------------------------------------------------------------------------
# config errors


@pytest.mark.parametrize("key, value, match", [
    ("loss", "wasserstein", "model.loss.*non_saturating"),
    ("net", "unet", "need image data"),
    ("sampler", "ddim@4", "model.sampler"),
    ("num_stepz", 4, "model.num_stepz.*not used"),
])
def test_config_errors_are_one_line(key, value, match):
    cfg = ml_collections.ConfigDict({"name": "ddgan", key: value})
    with pytest.raises(ConfigError, match=match):
        gan.build_ddgan(cfg, data.get_dataset("moons"))
