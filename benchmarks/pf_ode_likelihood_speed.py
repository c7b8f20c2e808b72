"""Speed of the probability-flow likelihood of the digits diffusion model: the shared divergence of
``genjax.ode`` against the diffusion family's earlier one, interleaved in one process.

    python -m experiments.diffusion_digits              # the trained model (or pass --untrained)
    python -m benchmarks.pf_ode_likelihood_speed --workdir runs/diffusion_digits --heun 32 --batch 25

Both sides solve the same PF-ODE (exact trace, 64 dims) for the same batch of test digits; with
``--heun K`` both take the same K fixed Heun steps (equal work), else the model's adaptive solve
(whose step count can differ slightly with rounding). They differ only in how the trace is
formed:

- ``shared`` (``genjax.ode.exact_divergence``): one linearisation of the field per evaluation,
  then forward-mode products with the basis vectors in chunks of 16 under a scan;
- ``previous`` (the diffusion family's implementation before the two were merged): one full
  ``jax.jvp`` per basis vector, all 64 vectorised by ``lax.map``.

A Hutchinson comparison (one JVP per evaluation on both sides) is included as a control: it should
be a tie.
"""

from __future__ import annotations

import argparse
import math
import pathlib

import jax
import jax.numpy as jnp

from benchmarks.harness import compare, report
from genjax import train
from genjax.ode import ode_log_prob, odeint, sample_probe


def previous_exact_divergence(f, x):
    """The diffusion family's former exact divergence: ``lax.map`` of one JVP per dimension."""
    batch, event = x.shape[0], x.shape[1:]
    d = math.prod(event)
    fx = f(x)

    def diag_entry(i):
        e = jnp.zeros((d,), x.dtype).at[i].set(1.0).reshape(event)
        _, jv = jax.jvp(f, (x,), (jnp.broadcast_to(e, x.shape),))
        return jnp.reshape(jv, (batch, d))[:, i]

    return fx, jnp.sum(jax.lax.map(diag_entry, jnp.arange(d), batch_size=d), axis=0)


def previous_log_prob(field, prior_logp, x, t0, t1, cfg, probe=None):
    def augmented(t, state, _):
        y, _ = state
        if probe is None:
            return previous_exact_divergence(lambda z: field(t, z, None), y)
        fx, jv = jax.jvp(lambda z: field(t, z, None), (y,), (probe,))
        return fx, jnp.sum(jnp.reshape(jv * probe, (y.shape[0], -1)), axis=-1)

    (x_t1, delta), nfe = odeint(augmented, (x, jnp.zeros(x.shape[:1], x.dtype)), t0, t1, cfg)
    return prior_logp(x_t1) + delta, nfe


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="runs/diffusion_digits")
    p.add_argument("--untrained", action="store_true", help="initial parameters of the experiment's model")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--heun", type=int, default=0,
                   help="solve with this many fixed Heun steps (equal work on both sides) instead of the model's solver")
    args = p.parse_args()
    if args.untrained:
        from experiments.diffusion_digits import get_config

        trainer = train.Trainer.from_config(get_config())
        model, ds, params, label = trainer.model, trainer.dataset, trainer.init().params, "untrained"
    else:
        run = train.load_workdir(pathlib.Path(args.workdir))
        model, ds, params, label = run.model, run.dataset, run.params(), f"trained, step {run.step}"
    x = model.transform.forward(jnp.asarray(ds.test_batch()["x"][: args.batch]))
    rsde = model.sde.reverse(lambda y, t: model.score(params, y, t), probability_flow=True)
    field = lambda t, y, _: rsde.drift(y, t)  # noqa: E731
    t0, t1, cfg = model.times.t_min, model.sde.T, model.solver
    if args.heun:
        cfg = cfg.replace(solver="heun", steps=args.heun, fixed_grid=True)
    probe = sample_probe(jax.random.key(0), x.shape, "rademacher")

    shared_exact = jax.jit(lambda y: ode_log_prob(field, model.sde.prior_logp, y, t0, t1, cfg)[::2])
    prev_exact = jax.jit(lambda y: previous_log_prob(field, model.sde.prior_logp, y, t0, t1, cfg))
    shared_hut = jax.jit(lambda y: ode_log_prob(field, model.sde.prior_logp, y, t0, t1, cfg, divergence="hutchinson",
                                                key=jax.random.key(0))[::2])
    prev_hut = jax.jit(lambda y: previous_log_prob(field, model.sde.prior_logp, y, t0, t1, cfg, probe=probe))

    (lp_a, nfe_a), (lp_b, nfe_b) = shared_exact(x), prev_exact(x)
    print(f"model: {label}; NFE {int(nfe_a)} / {int(nfe_b)}; max |log p difference| "
          f"{float(jnp.max(jnp.abs(lp_a - lp_b))):.2e}")
    results = {
        "exact trace": compare({"shared": lambda: jax.block_until_ready(shared_exact(x)),
                                "previous": lambda: jax.block_until_ready(prev_exact(x))},
                               calls_per_block=1, rounds=args.rounds, warmup=1),
        "hutchinson (control)": compare({"shared": lambda: jax.block_until_ready(shared_hut(x)),
                                         "previous": lambda: jax.block_until_ready(prev_hut(x))},
                                        calls_per_block=1, rounds=args.rounds, warmup=1),
    }
    report("pf_ode_likelihood_speed", results,
           work=f"log p of {args.batch} test digits through the PF-ODE ({cfg.solver}"
                + (f", {cfg.steps} fixed steps" if args.heun else f", rtol {cfg.rtol}") + f", NFE {int(nfe_a)}), {label}",
           extra={"nfe": int(nfe_a), "max_abs_logp_difference": float(jnp.max(jnp.abs(lp_a - lp_b)))})


if __name__ == "__main__":
    main()
