"""Every registered model meets the Model contract (``genjax.model``), at its registry's tiny size.

Each model (default tier: each family's leaderboard model; slow tier: every registered model)
builds from its entry's ``tiny`` settings, declares the same samplers as its entry, initialises,
takes a jitted training step through the trainer's pure step, samples with every sampler it
declares (the default tier: the model's default sampler and one fixed-step ODE solver where it
declares one, since each compile costs a second or more and the family tests exercise their own
samplers; the slow tier every declared name), reports the NFE of every ODE solve, and has a
finite ``log_prob`` of the declared kind where it declares one.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from genjax import data, registry
from genjax.model import LOG_PROB_KINDS, contract_violations
from genjax.ode import SOLVERS
from genjax.train import init_state, make_train_step

NUM = 8
DEFAULT_TIER = ("default", "heun")


def _spec(name: str, kind) -> str:
    if name == "default":
        return "default"
    return f"{name}@2" if kind.steps == "required" or (kind.steps == "optional" and not _adaptive(name)) else name


def _adaptive(name: str) -> bool:
    return name in SOLVERS and SOLVERS[name].adaptive


def _specs(table, full: bool) -> list[str]:
    names = [n for n in table if full or n in DEFAULT_TIER]
    return [_spec(n, table[n]) for n in names]


@functools.lru_cache(maxsize=None)
def _built(name: str):
    entry = registry.entry(name)
    dataset = data.get_dataset("moons")
    model = entry.build(ml_collections.ConfigDict({"name": name, **entry.tiny}), dataset)
    batch = dataset.train_batch(jax.random.key(0), 0, 16)
    tx = optax.adam(1e-3)
    state = init_state(model, tx, jax.random.key(1), batch)
    return entry, dataset, model, batch, tx, state


def _check(name: str, full: bool):
    entry, dataset, model, batch, tx, state = _built(name)
    assert contract_violations(model) == []
    assert list(model.samplers) == list(entry.samplers), "the registry entry declares other samplers than the model"

    new_state, metrics = jax.jit(make_train_step(model, tx))(state, batch)
    assert int(new_state.step) == 1
    assert all(np.ndim(v) == 0 and np.isfinite(float(v)) for v in metrics.values()), metrics
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(new_state.params))

    params = new_state.params
    for spec in _specs(model.samplers, full):
        x, stats = jax.jit(functools.partial(model.sample_with_stats, num=NUM, sampler=spec))(params, jax.random.key(2))
        assert x.shape == (NUM, *dataset.event_shape), spec
        assert bool(jnp.all(jnp.isfinite(x))), spec
        assert isinstance(stats, dict), spec
        if spec.split("@")[0].split(":")[0] in SOLVERS:
            assert int(stats["nfe"]) > 0, spec

    kind = model.log_prob_kind
    assert kind is None or kind in LOG_PROB_KINDS
    if kind is not None:
        lp = jax.jit(lambda p, x: model.log_prob(p, x, key=jax.random.key(3)))(params, batch["x"][:NUM])
        assert lp.shape == (NUM,) and bool(jnp.all(jnp.isfinite(lp))), (name, lp)


# The default tier checks the model that stands for each family (its leaderboard entry); the slow
# tier checks every registered model with every declared sampler, a superset of these checks.
FAMILY_DEFAULTS = [name for name, entry in registry.entries().items() if entry.leaderboard]


@pytest.mark.parametrize("name", FAMILY_DEFAULTS)
def test_registered_model_meets_the_contract(name):
    _check(name, full=False)


def test_every_family_has_a_model_in_the_default_tier():
    families = {entry.family for entry in registry.entries().values()}
    assert families == {registry.entry(name).family for name in FAMILY_DEFAULTS}


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.list_models())
def test_registered_model_samples_with_every_declared_sampler(name):
    _check(name, full=True)


def test_registry_entries_declare_a_family_summary_and_an_existing_default_experiment():
    import pathlib

    experiments = pathlib.Path(__file__).resolve().parent.parent / "experiments"
    for name, entry in registry.entries().items():
        assert entry.family and entry.summary, name
        if entry.default_experiment is not None:
            assert (experiments / f"{entry.default_experiment}.py").is_file(), (name, entry.default_experiment)
