"""The multi-group train step (``Model.update_plan``): order, repeats, keys, optimisers per group,
``after_update``, purity, jit == no-jit, vmapped seeds — against a hand-written reference."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from genjax.errors import ConfigError
from genjax.model import ModelBase, Update, contract_violations
from genjax.train import init_state, make_train_step
from genjax.train.optim import make_group_optimizers


class TwoPlayers(ModelBase):
    """``a`` chases ``b``, ``b`` runs from ``a`` (a toy min-max game), and ``shadow`` follows ``a``
    by an exponential moving average in ``after_update``. Each loss adds noise from its key so the
    keys' derivation is observable."""

    update_plan = (Update("a", "loss_a", repeats=2), Update("b", "loss_b"))

    def init(self, key, batch):
        a = jax.random.normal(key, (3,))
        return {"a": a, "b": jnp.ones(3), "shadow": a}

    def loss_a(self, params, batch, key, step):
        noise = jax.random.normal(key, (3,))
        loss = jnp.sum((params["a"] - params["b"] - batch["x"].mean(0) - 0.1 * noise) ** 2)
        return loss, {"gap": jnp.sum((params["a"] - params["b"]) ** 2)}

    def loss_b(self, params, batch, key, step):
        noise = jax.random.normal(key, (3,))
        return -jnp.sum((params["a"] - params["b"]) ** 2) * 0.1 + 0.01 * jnp.sum(params["b"] * noise), {}

    def loss(self, params, batch, key):
        return self.loss_a(params, batch, key, 0)[0] + self.loss_b(params, batch, key, 0)[0], {}

    def after_update(self, params, step):
        return {**params, "shadow": 0.5 * params["shadow"] + 0.5 * params["a"]}

    def sample_with_stats(self, params, key, num, *, sampler=None):
        return jnp.broadcast_to(params["a"], (num, 3)), {}


BATCH = {"x": jnp.arange(12.0).reshape(4, 3) / 10}


def _reference_step(model, txs, state):
    """The documented semantics, written out by hand."""
    key = jax.random.fold_in(state.key, state.step)
    params, opt = dict(state.params), dict(state.opt_state)
    for i, update in enumerate(model.update_plan):
        for r in range(update.repeats):
            k = jax.random.fold_in(jax.random.fold_in(key, i), r)
            grads = jax.grad(lambda g: getattr(model, update.loss)({**params, update.group: g}, BATCH, k, state.step)[0])(
                params[update.group])
            upd, opt[update.group] = txs[update.group].update(grads, opt[update.group], params[update.group])
            params[update.group] = optax.apply_updates(params[update.group], upd)
    return model.after_update(params, state.step + 1), opt


def test_grouped_step_follows_the_plan_with_each_groups_optimiser():
    model = TwoPlayers()
    assert contract_violations(model) == [] and model.param_groups == ("a", "b")
    txs = {"a": optax.sgd(0.1), "b": optax.adam(0.05)}
    state = init_state(model, txs, jax.random.key(0), BATCH)
    assert set(state.opt_state) == {"a", "b"}  # no optimiser state for the shadow group
    step = make_train_step(model, txs, ema_decay=0.5)
    ref = state
    for _ in range(3):
        state, metrics = jax.jit(step)(state, BATCH)
        params, opt = _reference_step(model, txs, ref)
        ref = ref.replace(step=ref.step + 1, params=params, opt_state=opt)
        jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), state.params, ref.params)
    assert {"loss", "a/loss", "a/gap", "a/grad_norm", "b/loss", "b/grad_norm"} <= set(metrics)
    np.testing.assert_allclose(metrics["loss"], metrics["a/loss"] + metrics["b/loss"], rtol=1e-6)
    # after_update ran: the shadow moved toward a
    assert not np.allclose(state.params["shadow"], init_state(model, txs, jax.random.key(0), BATCH).params["shadow"])


def test_grouped_step_is_pure_and_jit_equals_eager_and_vmaps_over_seeds():
    model = TwoPlayers()
    tx = optax.adam(1e-2)  # one transformation, used for every group
    step = make_train_step(model, tx)
    s0 = init_state(model, tx, jax.random.key(1), BATCH)
    a, _ = jax.jit(step)(s0, BATCH)
    b, _ = jax.jit(step)(s0, BATCH)
    c, _ = step(s0, BATCH)
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(x, y), a, b)
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), a, c)
    seeds = jax.vmap(lambda k: init_state(model, tx, k, BATCH))(jax.random.split(jax.random.key(2), 3))
    stepped, _ = jax.jit(jax.vmap(step, in_axes=(0, None)))(seeds, BATCH)
    for i in range(3):
        one = jax.tree_util.tree_map(lambda x, i=i: x[i], seeds)
        want, _ = jax.jit(step)(one, BATCH)
        jax.tree_util.tree_map(lambda x, y, i=i: np.testing.assert_allclose(x[i], y, rtol=1e-6, atol=1e-7), stepped, want)


def test_group_optimizers_take_train_groups_overrides():
    train = ml_collections.ConfigDict({"optimizer": "sgd", "lr": 0.1, "schedule": "constant", "warmup_steps": 0,
                                       "end_lr_factor": 0.0, "weight_decay": 0.0, "b1": 0.0, "b2": 0.999,
                                       "grad_clip": 0.0, "steps": 10,
                                       "groups": {"b": {"lr": 0.5}}})
    txs = make_group_optimizers(train, ("a", "b"))
    g = {"w": jnp.ones(2)}
    for name, lr in (("a", 0.1), ("b", 0.5)):
        upd, _ = txs[name].update(g, txs[name].init(g), g)
        np.testing.assert_allclose(upd["w"], -lr * np.ones(2), rtol=1e-6)
    with train.unlocked():
        train.groups = ml_collections.ConfigDict({"disc": {"lr": 1.0}})
    with pytest.raises(ConfigError, match="train.groups.disc.*no parameter group"):
        make_group_optimizers(train, ("a", "b"))


def test_group_keys_can_be_given_on_the_command_line():
    from genjax import config as gconfig

    c = gconfig.default_config()
    gconfig.apply_override(c, "train.groups.disc.lr", "4e-4")
    gconfig.apply_override(c, "train.groups.disc.b1", "0")
    assert dict(c.train.groups.disc) == {"lr": 4e-4, "b1": 0.0} and isinstance(c.train.groups.disc.b1, float)
    with pytest.raises(ConfigError, match="train.groups.disc.momentum.*not an optimiser key"):
        gconfig.apply_override(c, "train.groups.disc.momentum", "0.9")
    with pytest.raises(ConfigError, match="train.groups.gen.lr.*expects a float"):
        gconfig.apply_override(c, "train.groups.gen.lr", "fast")


def test_group_keys_are_checked_when_the_config_loads():
    from genjax import config as gconfig

    c = gconfig.default_config()
    with c.train.groups.unlocked():
        c.train.groups.disc = ml_collections.ConfigDict({"lr": -1.0})
    with pytest.raises(ConfigError, match="train.groups.disc.lr.*> 0"):
        gconfig.validate(c)
    c = gconfig.default_config()
    with c.train.groups.unlocked():
        c.train.groups.disc = ml_collections.ConfigDict({"momentum": 0.9})
    with pytest.raises(ConfigError, match="train.groups.disc.momentum.*not an optimiser key"):
        gconfig.validate(c)


class Alternating(TwoPlayers):
    """``b`` is updated only at even steps (``Update.when``), as a bridge's two directions or a
    generator trained every other step would be."""

    update_plan = (Update("a", "loss_a"), Update("b", "loss_b", when="even_step"))

    def even_step(self, step):
        return step % 2 == 0


def test_gated_update_is_skipped_with_its_optimiser_state_and_vmaps():
    model = Alternating()
    assert contract_violations(model) == []
    txs = {"a": optax.sgd(0.1), "b": optax.adam(0.05)}
    step = jax.jit(make_train_step(model, txs))
    s0 = init_state(model, txs, jax.random.key(0), BATCH)
    s1, m1 = step(s0, BATCH)  # step 0: both groups
    s2, m2 = step(s1, BATCH)  # step 1: a only
    assert float(m1["b/active"]) == 1.0 and float(m2["b/active"]) == 0.0 and float(m2["b/loss"]) == 0.0
    assert not np.allclose(s1.params["b"], s0.params["b"])
    jax.tree_util.tree_map(np.testing.assert_array_equal, (s2.params["b"], s2.opt_state["b"]), (s1.params["b"], s1.opt_state["b"]))
    assert not np.allclose(s2.params["a"], s1.params["a"])
    # under vmap over seeds the gate is per seed's step (both branches run, the right one is kept)
    seeds = jax.vmap(lambda k: init_state(model, txs, k, BATCH))(jax.random.split(jax.random.key(1), 2))
    seeds = seeds.replace(step=jnp.array([0, 1], jnp.int32))
    out, m = jax.jit(jax.vmap(make_train_step(model, txs), in_axes=(0, None)))(seeds, BATCH)
    np.testing.assert_array_equal(m["b/active"], [1.0, 0.0])
    np.testing.assert_array_equal(out.params["b"][1], seeds.params["b"][1])
    for i in range(2):
        one = jax.tree_util.tree_map(lambda x, i=i: x[i], seeds)
        want, _ = step(one, BATCH)
        jax.tree_util.tree_map(lambda x, y, i=i: np.testing.assert_allclose(x[i], y, rtol=1e-6, atol=1e-7), out, want)
