"""Test bits/dim of a trained digits diffusion model from the probability-flow ODE, per example.

    python -m experiments.diffusion_digits
    python -m benchmarks.diffusion_digits_likelihood --workdir runs/diffusion_digits

``log p`` of each dequantized test digit through the PF-ODE (the model's own likelihood
settings: exact divergence, its tolerances, from ``t_min`` to ``T``), in batches of
``--batch`` (one adaptive solve per batch). Reported: bits/dim of the mean NLL over all test
digits (the number ``genjax eval`` prints; each is an upper bound on the discrete NLL, the
``D log 17`` dequantization offset included), the median, the mean without the ``k`` worst
digits, and the worst log-densities with their prior part ``log p_T(x_T)`` (the rest is the
divergence integral), since a few digits can dominate the mean. ``--train N`` also scores
``N`` distinct training digits (fresh dequantization noise) to compare train and test.
``--x0-bound B`` scores the same trained network with its clean-data estimate kept in
``[-B, B]`` (``BoundedX0Prediction`` for an eps network, ``BoundedEDMPrediction`` for EDM's
denoiser): the identity on the data's range, so the model is unchanged near the data.

    python -m benchmarks.diffusion_digits_likelihood --workdir runs/edm_digits --name edm_digits_likelihood
    python -m benchmarks.diffusion_digits_likelihood --workdir runs/edm_digits --x0-bound 1.1 \
        --name edm_digits_likelihood_bounded
"""

from __future__ import annotations

import argparse
import copy
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import report
from genjax import metrics, train


def with_x0_bound(model, bound: float, width: float = 0.1):
    """``model`` (a trained diffusion model) with its prediction's clean estimate bounded."""
    from genjax.diffusion.predictions import bounded

    try:
        prediction = bounded(model.prediction, bound, width)
    except ValueError as e:
        raise SystemExit(f"--x0-bound: {e}") from None
    model = copy.copy(model)
    object.__setattr__(model, "prediction", prediction)
    return model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="runs/diffusion_digits")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--drop", default="3,5", help="comma-separated numbers of worst digits left out of trimmed means")
    p.add_argument("--name", default="diffusion_digits_likelihood", help="results file name")
    p.add_argument("--train", type=int, default=0, help="also score this many training digits")
    p.add_argument("--x0-bound", type=float, default=0.0, help="score with the clean estimate kept in [-B, B]")
    args = p.parse_args()
    workdir = pathlib.Path(args.workdir)
    config = train.read_workdir_config(workdir)
    trainer, state, step = train.restore_for_eval(config, workdir)
    ds, model = trainer.dataset, trainer.model
    params = trainer.eval_params(state)[0]
    if args.x0_bound:
        model = with_x0_bound(model, args.x0_bound)
    log_prob = jax.jit(lambda p, x: model.log_prob_with_stats(p, x))

    def score(x):
        lps, priors, nfes = [], [], []
        for i in range(0, x.shape[0], args.batch):
            lp, stats = log_prob(params, x[i : i + args.batch])
            lps.append(np.asarray(lp, np.float64))
            priors.append(np.asarray(stats["prior_logp"], np.float64))
            nfes.append(float(stats["nfe"]))
        return np.concatenate(lps), np.concatenate(priors), nfes

    lp, prior, nfes = score(jnp.asarray(ds.test_batch()["x"]))
    n, d = len(lp), ds.num_dims

    def bpd(nll):
        return float(metrics.bits_per_dim(nll, d, ds.dequantization))

    def stderr_bpd(values):
        return float(np.std(values, ddof=1) / math.sqrt(len(values)) / (d * math.log(2)))

    worst = np.argsort(lp)
    order = lp[worst]
    row = {"step": step, "test_digits": n, "nfe_mean": float(np.mean(nfes)),
           "bpd_mean": bpd(-lp.mean()), "bpd_mean_stderr": stderr_bpd(lp), "bpd_median": bpd(-np.median(lp))}
    for k in (int(v) for v in args.drop.split(",")):
        row[f"bpd_mean_without_{k}_worst"] = bpd(-order[k:].mean())
        row[f"bpd_mean_without_{k}_worst_stderr"] = stderr_bpd(order[k:])
    if args.train:
        # the first batch of an epoch: distinct training digits, freshly dequantized
        lp_train, _, _ = score(ds.train_batch(jax.random.key(1), 0, args.train)["x"])
        row.update(train_digits=args.train, train_bpd_mean=bpd(-lp_train.mean()),
                   train_bpd_median=bpd(-np.median(lp_train)), train_worst_log_p=float(lp_train.min()))
    lists = {"worst_test_index": [int(i) for i in worst[:8]], "worst_log_p": [float(v) for v in order[:8]],
             "worst_prior_log_p": [float(prior[i]) for i in worst[:8]],
             "worst_norm_x_T": [float(np.sqrt(-2 * prior[i] - d * math.log(2 * math.pi))) for i in worst[:8]]}
    row.update(lists)
    report(args.name, [row], [k for k in row if k not in lists])
    for k, v in lists.items():
        print(f"{k}:", v)


if __name__ == "__main__":
    main()
