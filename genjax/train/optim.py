"""Optimiser, learning-rate schedule and gradient clipping from ``config.train``."""

from __future__ import annotations

import optax


def make_schedule(train_cfg) -> optax.Schedule:
    """The learning rate as a function of the step: optional linear warmup, then the schedule."""
    lr, steps, warmup = train_cfg.lr, train_cfg.steps, train_cfg.warmup_steps
    end = lr * train_cfg.end_lr_factor
    decay_steps = max(steps - warmup, 1)
    if train_cfg.schedule == "constant":
        main = optax.constant_schedule(lr)
    elif train_cfg.schedule == "cosine":
        main = optax.cosine_decay_schedule(lr, decay_steps, alpha=train_cfg.end_lr_factor)
    elif train_cfg.schedule == "linear":
        main = optax.linear_schedule(lr, end, decay_steps)
    else:  # validated by genjax.config
        raise ValueError(f"unknown schedule {train_cfg.schedule!r}")
    if warmup == 0:
        return main
    return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])


def make_optimizer(train_cfg) -> tuple[optax.GradientTransformation, optax.Schedule]:
    schedule = make_schedule(train_cfg)
    name = train_cfg.optimizer
    if name == "adam":
        opt = optax.adam(schedule, b1=train_cfg.b1, b2=train_cfg.b2)
    elif name == "adamw":
        opt = optax.adamw(schedule, b1=train_cfg.b1, b2=train_cfg.b2, weight_decay=train_cfg.weight_decay)
    elif name == "sgd":
        opt = optax.sgd(schedule, momentum=train_cfg.b1 or None)
    elif name == "lamb":
        opt = optax.lamb(schedule, b1=train_cfg.b1, b2=train_cfg.b2, weight_decay=train_cfg.weight_decay)
    else:  # validated by genjax.config
        raise ValueError(f"unknown optimizer {name!r}")
    # The clipping link is always present (infinite norm when disabled) so the optimiser state
    # has the same structure whatever the clipping setting.
    clip = train_cfg.grad_clip if train_cfg.grad_clip > 0 else float("inf")
    return optax.chain(optax.clip_by_global_norm(clip), opt), schedule


def make_group_optimizers(train_cfg, groups: tuple[str, ...]) -> dict[str, optax.GradientTransformation]:
    """One optimiser per parameter group: ``train.*`` with ``train.groups.<group>.*`` on top."""
    overrides = train_cfg.get("groups") or {}
    unknown = sorted(set(overrides) - set(groups))
    if unknown:
        from genjax.errors import ConfigError

        raise ConfigError(f"config key 'train.groups.{unknown[0]}': the model has no parameter group "
                          f"{unknown[0]!r}; its groups: {', '.join(groups)}")
    out = {}
    for group in groups:
        cfg = train_cfg.copy_and_resolve_references()
        with cfg.unlocked():
            cfg.update(dict(overrides.get(group, {})))
        out[group] = make_optimizer(cfg)[0]
    return out
