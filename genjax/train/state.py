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


def init_state(model, tx: optax.GradientTransformation, key: jax.Array, batch: dict) -> TrainState:
    """Initialise a run from one root key (split into the init and train streams)."""
    init_key, train_key = jax.random.split(key)
    params = model.init(init_key, batch)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        ema_params=params,
        rng=jax.random.key_data(train_key),
    )
