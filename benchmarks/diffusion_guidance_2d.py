"""Classifier-free and classifier guidance on 8gaussians, measured by component membership.

    python -m benchmarks.diffusion_guidance_2d

Trains (here, a few minutes on CPU) a class-conditional VP score model with label dropout 0.2
and a time-dependent classifier on noised data, then draws ``--num`` samples of one component
(``--label``) with classifier-free guidance weight ``w`` (``eps_u + w (eps_c - eps_u)``: w = 0
is the unconditional model) and, separately, with classifier guidance of scale ``s`` on the
unconditional model (null label). Membership: the share of samples whose nearest of the 8
centres is the requested one (1/8 for unconditional samples), and their mean distance to it.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.common import report
from genjax import data as gdata
from genjax.diffusion import VPSDE, Diffusion, NoisyClassifier
from genjax.nn import TimeMLP

CENTRES = np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (0.7071, 0.7071), (0.7071, -0.7071),
                    (-0.7071, 0.7071), (-0.7071, -0.7071)]) * 4 / 1.414


def _fit(loss_fn, params, dataset, steps, lr, seed):
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps))
    opt = tx.init(params)

    @jax.jit
    def chunk(params, opt, start):
        def step(carry, i):
            params, opt = carry
            key = jax.random.fold_in(jax.random.key(seed), i)
            k_b, k_l = jax.random.split(key)
            grads = jax.grad(lambda p: loss_fn(p, dataset.sample(k_b, 512), k_l)[0])(params)
            updates, opt = tx.update(grads, opt)
            return (optax.apply_updates(params, updates), opt), None

        return jax.lax.scan(step, (params, opt), start + jnp.arange(1000))[0]

    for start in range(0, steps, 1000):
        params, opt = chunk(params, opt, start)
    return params


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--label", type=int, default=2)
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--sampler", default="ddim@100")
    p.add_argument("--weights", default="0,1,2,4")
    p.add_argument("--scales", default="0,1,2,4")
    args = p.parse_args()
    ds = gdata.get_dataset("8gaussians")
    sde = VPSDE()
    model = Diffusion(TimeMLP(hidden=(128, 128, 128), time_dim=32, num_classes=8), (2,), sde=sde, num_classes=8,
                      label_dropout=0.2, default_sampler=args.sampler)
    classifier = NoisyClassifier(TimeMLP(hidden=(128, 128), time_dim=32, out_dim=8), sde)
    start = time.perf_counter()
    params = _fit(model.loss, model.init(jax.random.key(0), ds.sample(jax.random.key(1), 8)), ds, args.steps, 2e-3, 1)
    clf_params = _fit(classifier.loss, classifier.init(jax.random.key(2), ds.sample(jax.random.key(3), 8)), ds,
                      args.steps // 2, 2e-3, 2)
    train_seconds = time.perf_counter() - start

    def measure(x):
        x = np.asarray(x)
        nearest = np.argmin(((x[:, None] - CENTRES[None]) ** 2).sum(-1), -1)
        return float(np.mean(nearest == args.label)), float(np.mean(np.linalg.norm(x - CENTRES[args.label], axis=-1)))

    log_p_y = classifier.log_prob_fn(clf_params)
    rows = []
    for w in (float(v) for v in args.weights.split(",")):
        x = jax.jit(lambda k, w=w: model.sample(params, k, args.num, label=args.label, guidance=w))(jax.random.key(5))
        share, dist = measure(x)
        rows.append({"guidance": "classifier-free", "weight": w, "membership": share, "mean_distance": dist})
    for s in (float(v) for v in args.scales.split(",")):
        # classifier guidance on the unconditional model: w = 0 gives the network the null label,
        # the classifier gets the requested one
        x = jax.jit(lambda k, s=s: model.sample(params, k, args.num, label=args.label, guidance=0.0,
                                                classifier=log_p_y, classifier_scale=s))(jax.random.key(6))
        share, dist = measure(x)
        rows.append({"guidance": "classifier", "weight": s, "membership": share, "mean_distance": dist})
    for r in rows:
        r.update({"label": args.label, "sampler": args.sampler, "train_steps": args.steps,
                  "train_seconds": train_seconds, "num": args.num})
    report("diffusion_guidance_2d", rows, ["guidance", "weight", "membership", "mean_distance"])


if __name__ == "__main__":
    main()
