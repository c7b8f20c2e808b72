"""The training state: everything a run needs to continue, and nothing else."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
    """Params, optimiser state, EMA params, step and rng of one run (or N runs, stacked).

    ``rng`` holds raw key data (``jax.random.key_data``) so checkpoints store a plain uint32
    array; ``key`` rewraps it. The step's randomness is ``fold_in(key, step)``, so no key is
    carried from step to step and a resumed run draws the same numbers as an uninterrupted one.
    """

    step: jax.Array  # int32 []
    params: Any
    opt_state: Any
    ema_params: Any
    rng: jax.Array  # uint32 key data

    @property
    def key(self) -> jax.Array:
        return jax.random.wrap_key_data(self.rng)


def group_transforms(model, tx) -> Any:
    """The optimiser of each parameter group: ``tx`` itself for a one-group model; for a model with
    an ``update_plan``, ``tx`` if it is already a dict ``{group: tx}``, else ``tx`` for every group."""
    groups = model.param_groups
    if not groups:
        return tx
    if isinstance(tx, dict):
        missing = set(groups) - set(tx)
        if missing:
            raise ValueError(f"no optimiser for parameter groups {sorted(missing)}")
        return tx
    return {g: tx for g in groups}


def init_state(model, tx: optax.GradientTransformation | dict, key: jax.Array, batch: dict) -> TrainState:
    """Initialise a run from one root key (split into the init and train streams).

    A model with parameter groups (``model.param_groups``) gets one optimiser state per group
    (``tx`` a dict by group, or one transformation used for every group).
    """
    init_key, train_key = jax.random.split(key)
    params = model.init(init_key, batch)
    txs = group_transforms(model, tx)
    if model.param_groups:
        opt_state = {g: txs[g].init(params[g]) for g in model.param_groups}
    else:
        opt_state = txs.init(params)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=opt_state,
        ema_params=params,
        rng=jax.random.key_data(train_key),
    )
