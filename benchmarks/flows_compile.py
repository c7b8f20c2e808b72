"""Compile time of a flow's training step against depth: ``Repeat`` (nn.scan) vs an unrolled ``Chain``.

    python -m benchmarks.flows_compile

Glow steps on 2-D data (affine coupling with a 2 x 64 MLP, LU linear map, ActNorm), ``depth``
copies either stacked by ``Repeat`` (one ``nn.scan``: the program holds one copy) or listed in a
``Chain`` (a Python loop: the program holds ``depth`` copies). The time is tracing, lowering and
XLA compilation of ``value_and_grad`` of the mean NLL plus an Adam update, from a cold cache.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax

from benchmarks.common import report
from genjax import bijectors as B
from genjax.distributions import Flow, StandardNormal


def glow_step():
    return B.Chain((B.Coupling(B.MLPConditioner((64, 64)), B.Affine()), B.Conv1x1LU(), B.ActNorm()))


def compile_seconds(bijector, x) -> tuple[float, int]:
    flow = Flow(StandardNormal((2,)), bijector)
    variables = flow.init(jax.random.key(0), x)
    tx = optax.adam(1e-3)

    def step(v, opt, x):
        loss, grads = jax.value_and_grad(lambda v: -jnp.mean(flow.log_prob(v, x)))(v)
        updates, opt = tx.update(grads, opt, v)
        return optax.apply_updates(v, updates), opt, loss

    start = time.perf_counter()
    jax.jit(step).lower(variables, tx.init(variables), x).compile()
    eqns = len(jax.make_jaxpr(step)(variables, tx.init(variables), x).jaxpr.eqns)
    return time.perf_counter() - start, eqns


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--depths", default="2,8,32")
    args = p.parse_args()
    x = jax.random.normal(jax.random.key(0), (256, 2))
    rows = []
    for depth in map(int, args.depths.split(",")):
        for how, bij in (("Repeat (nn.scan)", B.Repeat(glow_step(), depth)),
                         ("Chain (unrolled)", B.Chain(tuple(glow_step() for _ in range(depth))))):
            seconds, eqns = compile_seconds(bij, x)
            rows.append({"depth": depth, "stacking": how, "compile s": seconds, "jaxpr eqns": eqns})
    report("flows_compile", rows, ["depth", "stacking", "compile s", "jaxpr eqns"])


if __name__ == "__main__":
    main()
