"""The pure train step and its compiled multi-step, multi-seed, multi-device form."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from genjax.train.state import TrainState, group_transforms

TrainStep = Callable[[TrainState, dict], tuple[TrainState, dict]]


def ema_update(ema: Any, params: Any, decay: float) -> Any:
    return jax.tree_util.tree_map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def tree_all_finite(tree: Any) -> jax.Array:
    """True when every floating-point leaf of ``tree`` is finite (a scalar bool array)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
              if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _keep_if(ok: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, old)


def make_train_step(
    model,
    tx: optax.GradientTransformation | dict,
    *,
    ema_decay: float = 0.0,
    ema_warmup: bool = False,
    schedule: optax.Schedule | None = None,
    skip_nonfinite: bool = False,
) -> TrainStep:
    """``train_step(state, batch) -> (state, metrics)`` for any Model.

    Pure: the step's key is ``fold_in(state.key, state.step)``; metrics are a flat dict of
    scalars (the model's own plus ``loss``, ``grad_norm`` and ``lr``).

    A one-group model is trained on ``model.loss``. A model with an ``update_plan`` gets one
    gradient update per ``Update`` (``repeats`` times each), in order, each with its group's
    optimiser and its own key ``fold_in(fold_in(key, i), r)``, later updates seeing the
    parameters earlier ones produced, and only at the steps its ``when`` method allows; then
    ``model.after_update``. Its metrics are prefixed by group (``disc/loss``, ``gen/grad_norm``,
    ``gen/active`` for a gated update, ...) and ``loss`` is the sum of the updates' last losses.

    ``ema_warmup``: the EMA's decay at update ``t`` (0-based) is ``min(ema_decay, (1 + t) / (10 + t))``,
    so the average forgets the initial parameters within a few hundred steps instead of keeping
    ``ema_decay ** t`` of them.

    ``skip_nonfinite``: an update whose loss or gradients are not finite is skipped (parameters
    and optimiser state kept) and counted in the metric ``skipped_updates``, as large-scale
    trainers do; without it a non-finite value propagates and the loop stops the run.
    """
    plan = model.update_plan
    txs = group_transforms(model, tx)

    def single(state: TrainState, batch: dict, key: jax.Array):
        def loss_fn(params):
            return model.loss(params, batch, key)

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = txs.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {**aux, "loss": loss, "grad_norm": optax.tree.norm(grads)}
        if skip_nonfinite:
            ok = jnp.isfinite(loss) & tree_all_finite(grads)
            params, opt_state = _keep_if(ok, (params, opt_state), (state.params, state.opt_state))
            metrics["skipped_updates"] = 1.0 - ok.astype(jnp.float32)
        return params, opt_state, metrics

    def group_update(update, params, opt_state, batch, key, step):
        """One gradient update of ``update.group``: ``(its params, its optimiser state, loss, aux,
        grad norm, skipped)``, the other groups held at ``params``."""
        g, loss_method = update.group, getattr(model, update.loss)

        def loss_fn(group_params):
            return loss_method({**params, g: group_params}, batch, key, step)

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params[g])
        updates, new_opt = txs[g].update(grads, opt_state[g], params[g])
        new_params = optax.apply_updates(params[g], updates)
        skipped = jnp.zeros((), jnp.float32)
        if skip_nonfinite:
            ok = jnp.isfinite(loss) & tree_all_finite(grads)
            new_params, new_opt = _keep_if(ok, (new_params, new_opt), (params[g], opt_state[g]))
            skipped = 1.0 - ok.astype(jnp.float32)
        return new_params, new_opt, loss, aux, optax.tree.norm(grads), skipped

    def grouped(state: TrainState, batch: dict, key: jax.Array):
        params, opt_state = dict(state.params), dict(state.opt_state)
        metrics, total, skipped = {}, 0.0, 0.0
        for i, update in enumerate(plan):
            g = update.group
            active = None if update.when is None else jnp.asarray(getattr(model, update.when)(state.step), bool)
            for r in range(update.repeats):
                k = jax.random.fold_in(jax.random.fold_in(key, i), r)
                run = functools.partial(group_update, update, batch=batch, key=k, step=state.step)
                if active is None:
                    out = run(params, opt_state)
                else:
                    # Only one branch runs (both under vmap over seeds, where the step is per seed).
                    def skip(params, opt_state, run=run, g=g):
                        shapes = jax.eval_shape(run, params, opt_state)[2:]
                        zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
                        return (params[g], opt_state[g], *zeros)

                    out = jax.lax.cond(active, run, skip, params, opt_state)
                params[g], opt_state[g], loss, aux, grad_norm, skip_count = out
                skipped = skipped + skip_count
            metrics.update({f"{g}/{name}": v for name, v in aux.items()})
            metrics[f"{g}/loss"] = loss
            metrics[f"{g}/grad_norm"] = grad_norm
            if active is not None:
                metrics[f"{g}/active"] = active.astype(jnp.float32)
            total = total + loss
        params = model.after_update(params, state.step + 1)
        metrics["loss"] = total
        if skip_nonfinite:
            metrics["skipped_updates"] = skipped
        return params, opt_state, metrics

    def train_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        key = jax.random.fold_in(state.key, state.step)
        params, opt_state, metrics = (single if plan is None else grouped)(state, batch, key)
        if schedule is not None:
            metrics["lr"] = jnp.asarray(schedule(state.step), jnp.float32)
        decay = ema_decay
        if ema_warmup and ema_decay > 0:
            t = state.step.astype(jnp.float32)
            decay = jnp.minimum(ema_decay, (1.0 + t) / (10.0 + t))
        new_state = state.replace(
            step=state.step + 1,
            params=params,
            opt_state=opt_state,
            ema_params=ema_update(state.ema_params, params, decay),
        )
        return new_state, metrics

    return train_step


def make_in_memory_steps(
    train_step: TrainStep,
    batch_fn: Callable[[jax.Array, jax.Array], dict],
    length: int,
    constrain: Callable[[dict], dict] = lambda b: b,
) -> Callable[[TrainState, jax.Array], tuple[TrainState, dict]]:
    """``length`` steps in one call, drawing each batch inside the program.

    ``batch_fn(data_key, step)`` is the dataset's pure batch function, so small models are not
    bound by one dispatch and one host-to-device copy per step. Metrics come back stacked
    ``[length]``.
    """

    def run(state: TrainState, data_key: jax.Array):
        def body(s, _):
            return train_step(s, constrain(batch_fn(data_key, s.step)))

        return jax.lax.scan(body, state, None, length=length)

    return run


def make_host_steps(train_step: TrainStep) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
    """Steps over host-loaded batches stacked ``[length, batch, ...]`` (one scan, one call)."""

    def run(state: TrainState, batches: dict):
        return jax.lax.scan(train_step, state, batches)

    return run
