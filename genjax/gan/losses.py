"""Adversarial losses and the R1 gradient penalty, per example.

With discriminator logits ``d`` (``[batch]``) on real and generated data:

- ``non_saturating`` (Goodfellow et al. 2014, the generator's ``-log D`` form):
  discriminator ``softplus(-d_real) + softplus(d_fake)``, generator ``softplus(-d_fake)``.
- ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): discriminator
  ``relu(1 - d_real) + relu(1 + d_fake)``, generator ``-d_fake``.

R1 (Mescheder et al. 2018) penalises the discriminator's input gradient on real data,
``gamma / 2 * E |grad_x D(x)|^2``. Lazily (StyleGAN2), it is added only every ``every`` steps,
multiplied by ``every`` so that its expected weight per step is unchanged; whether a step
applies it is a function of the step number inside the compiled program.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

ADVERSARIAL_LOSSES = ("non_saturating", "hinge")


def disc_loss_terms(kind: str, real: jax.Array, fake: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(real term [batch], fake term [batch])`` of the discriminator's loss."""
    if kind == "non_saturating":
        return jax.nn.softplus(-real), jax.nn.softplus(fake)
    if kind == "hinge":
        return jax.nn.relu(1.0 - real), jax.nn.relu(1.0 + fake)
    raise ValueError(f"adversarial loss must be one of {ADVERSARIAL_LOSSES}, got {kind!r}")


def gen_loss_terms(kind: str, fake: jax.Array) -> jax.Array:
    """The generator's loss per example, ``[batch]``."""
    if kind == "non_saturating":
        return jax.nn.softplus(-fake)
    if kind == "hinge":
        return -fake
    raise ValueError(f"adversarial loss must be one of {ADVERSARIAL_LOSSES}, got {kind!r}")


def logits_and_r1(logits_fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(D(x_i), |grad_x D(x_i)|^2)`` per example, both ``[batch]``, from one forward pass.

    Args:
      logits_fn: ``x [batch, *event] -> [batch]``, each logit a function of its own example only
        (no batch statistics), so the gradient of their sum holds every example's own gradient.
      x: ``[batch, *event]`` real data.
    """
    logits, vjp = jax.vjp(logits_fn, x)
    (grads,) = vjp(jnp.ones_like(logits))
    return logits, jnp.sum(jnp.reshape(grads, (x.shape[0], -1)) ** 2, axis=-1)


def r1_penalty(logits_fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """``|grad_x D(x_i)|^2`` per example, ``[batch]`` (see ``logits_and_r1``)."""
    return logits_and_r1(logits_fn, x)[1]


def logits_and_lazy_r1(logits_fn: Callable[[jax.Array], jax.Array], x: jax.Array, step: jax.Array, gamma: float,
                       every: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(logits [batch], penalty, mean R1)`` of real data at ``step``.

    The penalty is ``every * gamma / 2 * mean R1`` when ``step % every == 0`` and 0 otherwise;
    on those other steps the input gradient is not computed (one branch of a ``lax.cond``
    runs), and the mean R1 reported is 0.
    """
    zero = jnp.zeros((), x.dtype)
    if gamma == 0.0:
        return logits_fn(x), zero, zero

    def on(x):
        logits, r1 = logits_and_r1(logits_fn, x)
        return logits, every * 0.5 * gamma * jnp.mean(r1), jnp.mean(r1)

    def off(x):
        return logits_fn(x), zero, zero

    if every == 1:
        return on(x)
    return jax.lax.cond(jnp.asarray(step) % every == 0, on, off, x)
