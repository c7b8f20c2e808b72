"""Classifier-free and classifier guidance: exact identities and concentration on the chosen class."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.diffusion import (
    VPSDE,
    ContinuousTimes,
    Diffusion,
    GaussianMixture,
    NoisyClassifier,
    SamplingProblem,
    cfg_combine,
    classifier_guided_eps,
    drop_labels,
    label_grad,
    parse_sampler,
    sample_chain,
)
from genjax.nn import TimeMLP


def _mixture():
    """Two overlapping classes: N((-1, 0), 0.5 I) and N((1, 0), 0.5 I)."""
    return GaussianMixture(jnp.array([0.5, 0.5]), jnp.array([[-1.0, 0.0], [1.0, 0.0]]), jnp.stack([0.5 * jnp.eye(2)] * 2))


def test_classifier_guidance_with_the_exact_classifier_is_the_conditional_model():
    """Bayes: grad log p(x | y) = grad log p(x) + grad log p(y | x) at every noise level."""
    mix, sde = _mixture(), VPSDE()
    x = jax.random.normal(jax.random.key(0), (64, 2)) * 1.5
    label = jnp.ones(64, jnp.int32)
    log_p_y = lambda y, t, lab: jnp.take_along_axis(mix.class_log_posterior(y, sde, t), lab[:, None], -1)[:, 0]  # noqa: E731

    @jax.jit
    def guided_and_conditional(t):
        _, s = sde.marginal(t)
        return classifier_guided_eps(mix.eps(x, sde, t), s, label_grad(log_p_y, x, t, label), 1.0), mix.eps(x, sde, t, label)

    for t in (0.05, 0.3, 0.8):
        guided, conditional = guided_and_conditional(jnp.asarray(t))
        np.testing.assert_allclose(guided, conditional, rtol=1e-4, atol=1e-5)


def _membership(x, mix, k):
    """Fraction of samples whose most probable component (under the data) is ``k``."""
    return float(jnp.mean(jnp.argmax(mix.class_log_posterior(x), -1) == k))


def test_cfg_weight_concentrates_exact_samples_on_the_chosen_class():
    mix, sde = _mixture(), VPSDE()
    label = jnp.zeros(4000, jnp.int32)
    shares = {}

    @jax.jit  # one program for every weight: w is traced
    def sample(w, key):
        eps_fn = lambda x, t: cfg_combine(mix.eps(x, sde, t, label), mix.eps(x, sde, t), w)  # noqa: E731
        problem = SamplingProblem(sde, eps_fn, ContinuousTimes(1e-3), data_time=0.0, t_min=1e-3)
        return sample_chain(problem, parse_sampler("ddim@100"), key, 4000, (2,))[0]

    for w in (0.0, 1.0, 3.0):
        x = sample(jnp.asarray(w), jax.random.key(1))
        shares[w] = _membership(x, mix, 0)
        if w == 1.0:  # the conditional model: class 0's own Gaussian
            np.testing.assert_allclose(jnp.mean(x, 0), [-1.0, 0.0], atol=0.06)
            np.testing.assert_allclose(jnp.cov(x.T), 0.5 * np.eye(2), atol=0.06)
    # w = 0: the unconditional mixture (half each); w = 1: P(N(-1, .5) < 0) = Phi(sqrt 2) = 0.921
    assert shares[0.0] == pytest.approx(0.5, abs=0.03)
    assert shares[1.0] == pytest.approx(0.921, abs=0.02)
    assert shares[3.0] > shares[1.0] + 0.03


def _conditional_model():
    net = TimeMLP(hidden=(16, 16), time_dim=8, num_classes=3)
    return Diffusion(net, (2,), sde=VPSDE(), num_classes=3, label_dropout=0.3, default_sampler="ddim@5")


def test_cfg_with_weight_zero_is_the_unconditional_model():
    model = _conditional_model()
    batch = {"x": jnp.ones((8, 2)), "label": jnp.arange(8) % 3}
    params = model.init(jax.random.key(2), batch)
    # perturb the label embedding so that labels matter
    params = jax.tree_util.tree_map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(3), p.shape), params)
    x = jax.random.normal(jax.random.key(4), (8, 2))
    t = 0.4
    uncond = model.eps(params, x, t, None)
    cond = model.eps(params, x, t, 2)
    assert float(jnp.max(jnp.abs(uncond - cond))) > 1e-3
    np.testing.assert_allclose(model.guided_eps_fn(params, label=2, guidance=0.0)(x, t), uncond, atol=1e-6)
    np.testing.assert_allclose(model.guided_eps_fn(params, label=2, guidance=1.0)(x, t), cond, atol=1e-6)
    np.testing.assert_allclose(model.guided_eps_fn(params, label=2, guidance=2.5)(x, t), uncond + 2.5 * (cond - uncond),
                               rtol=1e-5, atol=1e-5)
    # label dropout replaces labels by the null id (num_classes) at the given rate
    dropped = drop_labels(jax.random.key(6), jnp.zeros(20_000, jnp.int32), 0.3, 3)
    assert set(np.unique(dropped).tolist()) == {0, 3}
    assert float(jnp.mean(dropped == 3)) == pytest.approx(0.3, abs=0.015)


@pytest.mark.slow
def test_cfg_sampling_with_weight_zero_draws_the_unconditional_samples():
    model = _conditional_model()
    params = model.init(jax.random.key(2), {"x": jnp.ones((8, 2)), "label": jnp.arange(8) % 3})
    params = jax.tree_util.tree_map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(3), p.shape), params)
    key = jax.random.key(5)
    np.testing.assert_allclose(model.sample(params, key, 16, label=1, guidance=0.0), model.sample(params, key, 16),
                               atol=1e-5)
    assert float(jnp.max(jnp.abs(model.sample(params, key, 16, label=1, guidance=1.0) - model.sample(params, key, 16)))) > 1e-4


@pytest.mark.slow
def test_noisy_classifier_learns_the_exact_noisy_posterior():
    mix, sde = _mixture(), VPSDE()
    clf = NoisyClassifier(TimeMLP(hidden=(32, 32), out_dim=2, time_dim=16, time_scale=1.0), sde)
    tx = optax.adam(3e-3)

    def batch_at(key):
        x, y = mix.sample(key, 512)
        return {"x": x, "label": y.astype(jnp.int32)}

    params = clf.init(jax.random.key(7), batch_at(jax.random.key(8)))
    opt = tx.init(params)

    @jax.jit
    def train(params, opt):
        def step(carry, key):
            params, opt = carry
            k_b, k_l = jax.random.split(key)
            grads = jax.grad(lambda p: clf.loss(p, batch_at(k_b), k_l)[0])(params)
            updates, opt = tx.update(grads, opt)
            return (optax.apply_updates(params, updates), opt), None

        return jax.lax.scan(step, (params, opt), jax.random.split(jax.random.key(9), 600))[0]

    params, _ = train(params, opt)
    log_p_y = clf.log_prob_fn(params)
    x = jax.random.normal(jax.random.key(10), (2000, 2)) * 1.5
    for t in (0.05, 0.3, 0.6):
        exact = jnp.exp(mix.class_log_posterior(x, sde, t)[:, 1])
        learned = jnp.exp(log_p_y(x, t, jnp.ones(2000, jnp.int32)))
        assert float(jnp.mean(jnp.abs(learned - exact))) < 0.05, t


@pytest.mark.slow
def test_trained_cfg_model_concentrates_on_the_chosen_component():
    """Train a small conditional model with label dropout on 8gaussians; guided samples of one
    class land on its component more often as w grows (w = 0: about 1/8)."""
    from genjax import data as gdata

    ds = gdata.get_dataset("8gaussians")
    net = TimeMLP(hidden=(128, 128, 128), time_dim=32, num_classes=8)
    model = Diffusion(net, (2,), sde=VPSDE(), num_classes=8, label_dropout=0.2, default_sampler="ddim@50")
    tx = optax.adam(2e-3)
    params = model.init(jax.random.key(0), ds.sample(jax.random.key(1), 8))
    opt = tx.init(params)

    @jax.jit
    def train(params, opt, key):
        def step(carry, k):
            params, opt = carry
            k_b, k_l = jax.random.split(k)
            grads = jax.grad(lambda p: model.loss(p, ds.sample(k_b, 512), k_l)[0])(params)
            updates, opt = tx.update(grads, opt)
            return (optax.apply_updates(params, updates), opt), None

        return jax.lax.scan(step, (params, opt), jax.random.split(key, 500))[0]

    for i in range(6):
        params, opt = train(params, opt, jax.random.key(100 + i))
    centres = jnp.asarray([(1, 0), (-1, 0), (0, 1), (0, -1), (0.7071, 0.7071), (0.7071, -0.7071),
                           (-0.7071, 0.7071), (-0.7071, -0.7071)]) * 4 / 1.414
    shares = {}
    for w in (0.0, 1.0, 3.0):
        x = jax.jit(lambda k, w=w: model.sample(params, k, 2000, label=2, guidance=w))(jax.random.key(7))
        nearest = jnp.argmin(jnp.sum((x[:, None] - centres[None]) ** 2, -1), -1)
        shares[w] = float(jnp.mean(nearest == 2))
    assert shares[0.0] < 0.25
    assert shares[1.0] > 0.85
    assert shares[3.0] >= shares[1.0] - 0.01
