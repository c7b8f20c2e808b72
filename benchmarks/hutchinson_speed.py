"""Hutchinson's divergence by a forward-mode product (``J e``, ``genjax.ode``) or a reverse-mode
one (``e^T J``), in a CNF training iteration and in a log-density evaluation, interleaved.

    python -m benchmarks.hutchinson_speed

Both estimate ``tr J`` without bias from the same probe; they differ in cost. FFJORD's 2-D toy
model (ConcatSquash 64-64-64, tanh), batch 512, a fixed-step Heun solve of 20 steps (so both
sides make exactly the same number of field evaluations): the gradient of the mean log-density
(training) and the log-density alone (evaluation); and the 64-dimensional digits-sized field
(256-256 softplus) for the evaluation.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

from benchmarks.harness import compare, report
from genjax.nn import ConcatSquashMLP
from genjax.ode import ODESolverConfig, integrate_with_log_det, odeint, sample_probe


def vjp_divergence(f, x, probe):
    fx, vjp = jax.vjp(f, x)
    (e_jac,) = vjp(probe)
    return fx, jnp.sum(e_jac * probe, axis=-1)


def log_density(net, params, x, probe, mode, cfg):
    field = lambda t, y, p: net.apply(p, y, jnp.asarray(t, y.dtype))  # noqa: E731
    if mode == "jvp":
        state, _ = integrate_with_log_det(field, x, 0.0, 1.0, cfg, args=params, div="hutchinson", probe=probe)
        z, logdet = state["x"], state["logdet"]
    else:
        def aug(t, s, a):
            p, e = a
            fx, tr = vjp_divergence(lambda y: field(t, y, p), s[0], e)
            return fx, tr

        (z, logdet), _ = odeint(aug, (x, jnp.zeros(x.shape[:1])), 0.0, 1.0, cfg, args=(params, probe))
    return -0.5 * jnp.sum(z**2, -1) + logdet


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    cfg = ODESolverConfig("heun", steps=20)
    results = {}
    for label, dim, hidden, act, batch in (("2-D toy (64-64-64 tanh), batch 512", 2, (64, 64, 64), "tanh", 512),
                                           ("64-D digits field (256-256 softplus), batch 128", 64, (256, 256), "softplus", 128)):
        net = ConcatSquashMLP(hidden, activation=act)
        x = jax.random.normal(jax.random.key(0), (batch, dim))
        params = net.init(jax.random.key(1), x, jnp.zeros(()))
        probe = sample_probe(jax.random.key(2), x.shape, "gaussian")
        for what in ("train", "eval"):
            if what == "train" and dim > 2:
                continue
            fns = {}
            for mode in ("jvp", "vjp"):
                if what == "train":
                    fn = jax.jit(jax.grad(lambda p, mode=mode: -jnp.mean(log_density(net, p, x, probe, mode, cfg))))
                else:
                    fn = jax.jit(lambda p, mode=mode: log_density(net, p, x, probe, mode, cfg))
                fns[mode] = (lambda fn=fn: jax.block_until_ready(fn(params)))
            results[f"{label}: {what}"] = compare(fns, calls_per_block=3, rounds=args.rounds, baseline="vjp")
    report("hutchinson_speed", results, work="one Hutchinson log-density (eval) or its parameter gradient (train), "
                                             "20 Heun steps (40 field evaluations), the same probe on both sides")


if __name__ == "__main__":
    main()
