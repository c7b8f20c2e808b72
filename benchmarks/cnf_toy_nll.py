"""Test NLL of a trained FFJORD on 8gaussians against the data's entropy (Monte Carlo, exact density).

    python -m experiments.ffjord_toy                 # trains runs/ffjord_8gaussians
    python -m benchmarks.cnf_toy_nll --workdir runs/ffjord_8gaussians

The 8gaussians density is known in closed form (``genjax.data.toy``: an equal mixture of
N(4 c_k / 1.414, (0.5 / 1.414)^2 I) over the eight compass directions ``c_k``), so its entropy
``H = -E log p(x)`` is a Monte Carlo mean over i.i.d. draws. The model's NLL ``-E log q(x)``
is measured on the held-out set of the evaluation (2000 points) and on ``--num`` fresh draws;
on the fresh draws the gap ``NLL - H = KL(p || q)`` is also estimated *paired* (``log p - log q``
on the same points), whose standard error is far smaller than either term's. ``log q`` uses the
exact trace at the run's evaluation tolerance, for the EMA and the raw parameters.
"""

from __future__ import annotations

import argparse
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import report
from genjax.data.toy import _EIGHT_CENTERS, TOY_SAMPLERS

STD = 0.5 / 1.414


def eight_gaussians_log_prob(x: jax.Array) -> jax.Array:
    """Exact log-density of ``genjax.data.toy``'s 8gaussians: ``x [n, 2] -> [n]``."""
    means = 4.0 * jnp.asarray(_EIGHT_CENTERS, jnp.float64) / 1.414  # [8, 2]
    sq = jnp.sum((x[:, None, :] - means[None]) ** 2, -1) / STD**2
    comp = -0.5 * sq - 2 * math.log(STD) - math.log(2 * math.pi) - math.log(8)
    return jax.scipy.special.logsumexp(comp, axis=-1)


def entropy(key: jax.Array, num: int) -> tuple[float, float]:
    """Monte Carlo ``(H, standard error)`` in nats from ``num`` draws of the data sampler."""
    with jax.enable_x64(True):
        x = TOY_SAMPLERS["8gaussians"](key, num)[0].astype(jnp.float64)
        lp = np.asarray(eight_gaussians_log_prob(x))
    return float(-lp.mean()), float(lp.std() / math.sqrt(num))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="runs/ffjord_8gaussians")
    p.add_argument("--num", type=int, default=20_000, help="fresh draws for the paired KL estimate")
    p.add_argument("--entropy-draws", type=int, default=2_000_000)
    args = p.parse_args()
    h, h_se = entropy(jax.random.key(12345), args.entropy_draws)
    print(f"8gaussians entropy (Monte Carlo, {args.entropy_draws} draws): {h:.4f} +- {h_se:.4f} nats")

    from genjax import train

    workdir = pathlib.Path(args.workdir)
    config = train.read_workdir_config(workdir)
    trainer, state, step = train.restore_for_eval(config, workdir)
    model = trainer.model
    log_q = jax.jit(lambda params, x: model.log_prob(params, x))
    test = np.asarray(trainer.dataset.test_batch()["x"])
    fresh = TOY_SAMPLERS["8gaussians"](jax.random.key(777), args.num)[0]
    with jax.enable_x64(True):
        log_p_fresh = np.asarray(eight_gaussians_log_prob(jnp.asarray(fresh, jnp.float64)))
        log_p_test = np.asarray(eight_gaussians_log_prob(jnp.asarray(test, jnp.float64)))
    rows = []
    for name, params in (("ema", state.ema_params), ("raw", state.params)):
        lq_test = np.concatenate([np.asarray(log_q(params, test[i : i + 2000])) for i in range(0, len(test), 2000)])
        lq = np.concatenate([np.asarray(log_q(params, fresh[i : i + 2000])) for i in range(0, args.num, 2000)])
        gap = log_p_fresh - lq
        rows.append({
            "params": name, "step": step,
            "test_nll": float(-lq_test.mean()), "test_nll_se": float(lq_test.std() / math.sqrt(len(lq_test))),
            "test_entropy_same_points": float(-log_p_test.mean()),
            "fresh_nll": float(-lq.mean()), "fresh_nll_se": float(lq.std() / math.sqrt(len(lq))),
            "kl_paired": float(gap.mean()), "kl_paired_se": float(gap.std() / math.sqrt(len(gap))),
            "entropy": h, "entropy_se": h_se,
        })
    report("cnf_toy_nll", rows, ["params", "step", "test_nll", "test_nll_se", "test_entropy_same_points",
                                 "fresh_nll", "fresh_nll_se", "kl_paired", "kl_paired_se", "entropy"])


if __name__ == "__main__":
    main()
