"""Guidance of class-conditional diffusion models.

**Classifier-free guidance** (Ho & Salimans 2022). One network is trained conditionally and,
with probability ``label_dropout``, with the label replaced by a null class; at sampling

    eps_w = eps(x, t, null) + w * (eps(x, t, y) - eps(x, t, null)),

so ``w = 0`` is the unconditional model, ``w = 1`` the conditional one and ``w > 1`` pushes
samples towards what distinguishes class ``y`` (the score of ``p(x) p(y | x)^w``). (The paper
writes ``(1 + w') eps_c - w' eps_u``, i.e. ``w = 1 + w'``.)

**Classifier guidance** (Dhariwal & Nichol 2021). A classifier ``p_phi(y | x_t, t)`` trained on
noisy data adds ``scale * grad_x log p_phi(y | x_t, t)`` to the score: in noise units
``eps - scale * s(t) * grad``. With the exact noisy posterior and ``scale = 1`` this is exactly the
conditional score (Bayes' rule), which the tests check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.diffusion.sde import SDE, bcast


def cfg_combine(eps_cond: jax.Array, eps_uncond: jax.Array, w) -> jax.Array:
    """``eps_uncond + w (eps_cond - eps_uncond)``."""
    return eps_uncond + w * (eps_cond - eps_uncond)


def classifier_guided_eps(eps: jax.Array, s_t, grad_log_py: jax.Array, scale) -> jax.Array:
    """``eps - scale * s(t) * grad_x log p(y | x_t)``: the score ``-eps / s`` plus the scaled classifier gradient."""
    return eps - scale * bcast(s_t, eps) * grad_log_py


def label_grad(log_p_y: Callable[[jax.Array, jax.Array, jax.Array], jax.Array], x: jax.Array, t, label: jax.Array):
    """``grad_x log p(label | x, t)`` for a batched classifier ``log_p_y(x, t, label) -> [batch]``."""
    return jax.grad(lambda y: jnp.sum(log_p_y(y, t, label)))(x)


def drop_labels(key: jax.Array, label: jax.Array, p: float, null: int) -> jax.Array:
    """Replaces each label by the null class ``null`` with probability ``p`` (CFG training)."""
    drop = jax.random.bernoulli(key, p, label.shape)
    return jnp.where(drop, null, label)


@dataclasses.dataclass(frozen=True)
class NoisyClassifier:
    """A time-dependent classifier ``p(y | x_t, t)`` trained on data noised by ``sde``.

    Args:
      net: Linen module ``(x [batch, *event], t [batch]) -> logits [batch, num_classes]`` (e.g.
        ``TimeMLP(out_dim=num_classes)``).
      sde: the noising process of the diffusion model it will guide.
      t_min: smallest training time.
      transform: data -> model space map of the diffusion model (``None``: identity).

    ``init(key, batch)`` and ``loss(params, batch, key)`` follow the Model contract's training
    half; ``log_prob_fn(params)`` gives the ``(x, t, y) -> log p(y | x_t, t)`` that guidance uses.
    """

    net: nn.Module
    sde: SDE
    t_min: float = 1e-3
    transform: Any = None

    def _to_model(self, x):
        return x if self.transform is None else self.transform.forward(x)

    def init(self, key: jax.Array, batch: dict) -> Any:
        x = self._to_model(batch["x"])
        return self.net.init(key, x, jnp.zeros(x.shape[:1]))

    def logits(self, params, x: jax.Array, t) -> jax.Array:
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        return self.net.apply(params, x, t)

    def log_prob_fn(self, params) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
        def log_p_y(x, t, label):
            logp = jax.nn.log_softmax(self.logits(params, x, t), axis=-1)
            return jnp.take_along_axis(logp, label[:, None].astype(jnp.int32), axis=-1)[:, 0]

        return log_p_y

    def loss(self, params, batch: dict, key: jax.Array):
        """Cross-entropy of the label at ``x_t`` for ``t ~ U[t_min, 1]``."""
        x0 = self._to_model(batch["x"])
        k_t, k_z = jax.random.split(key)
        t = jax.random.uniform(k_t, x0.shape[:1], minval=self.t_min, maxval=self.sde.T)
        xt = self.sde.perturb(x0, t, jax.random.normal(k_z, x0.shape))
        logp = jax.nn.log_softmax(self.logits(params, xt, t), axis=-1)
        ce = -jnp.take_along_axis(logp, batch["label"][:, None], axis=-1)[:, 0]
        acc = jnp.mean(jnp.argmax(logp, -1) == batch["label"])
        return jnp.mean(ce), {"cross_entropy": jnp.mean(ce), "accuracy": acc}
