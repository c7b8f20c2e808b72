"""Classifier-free guidance on digits: how often guided samples are read as the requested digit.

    python -m experiments.diffusion_digits
    python -m benchmarks.diffusion_digits_guidance --workdir runs/diffusion_digits

A logistic-regression classifier (scikit-learn), fitted on the dequantized training digits and
scored on the test digits, reads the class of ``--num`` samples drawn for every digit at each
guidance weight ``w`` (``eps_u + w (eps_c - eps_u)``: 0 = unconditional, 1 = conditional).
Reported per ``w``: the share of samples classified as the requested digit, the classifier's
mean confidence in it, and W2 of the samples to the test digits of that class (averaged over
digits), which grows once guidance trades diversity for class fidelity.
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import numpy as np
from sklearn.linear_model import LogisticRegression

from benchmarks.common import report
from genjax import metrics, train


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="runs/diffusion_digits")
    p.add_argument("--weights", default="0,1,2,4")
    p.add_argument("--num", type=int, default=200, help="samples per digit and weight")
    p.add_argument("--sampler", default="ode")
    p.add_argument("--name", default="diffusion_digits_guidance", help="results file name")
    args = p.parse_args()
    workdir = pathlib.Path(args.workdir)
    config = train.read_workdir_config(workdir)
    trainer, state, step = train.restore_for_eval(config, workdir)
    ds, model = trainer.dataset, trainer.model
    params = state.ema_params

    train_batch = ds.train_batch(jax.random.key(0), 0, ds.num_train)  # one dequantized epoch
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(np.asarray(train_batch["x"]), np.asarray(train_batch["label"]))
    test = ds.test_batch()
    test_x, test_y = np.asarray(test["x"]), np.asarray(test["label"])
    test_acc = float(np.mean(clf.predict(test_x) == test_y))

    sample = jax.jit(lambda params, key, label, w: model.sample(params, key, args.num, sampler=args.sampler,
                                                              label=label, guidance=w))
    rows = []
    for w in (float(v) for v in args.weights.split(",")):
        hits, conf, w2s = [], [], []
        for digit in range(10):
            x = np.asarray(sample(params, jax.random.key(100 + digit), digit, w))
            x = np.clip(x, 0.0, 1.0)  # the classifier's input range; samples may overshoot slightly
            proba = clf.predict_proba(x)
            hits.append(np.mean(np.argmax(proba, 1) == digit))
            conf.append(np.mean(proba[:, digit]))
            w2s.append(metrics.w2(x, test_x[test_y == digit]))
        rows.append({"w": w, "class_accuracy": float(np.mean(hits)), "confidence": float(np.mean(conf)),
                     "w2_to_class": float(np.mean(w2s)), "classifier_test_accuracy": test_acc,
                     "samples_per_digit": args.num, "sampler": args.sampler, "step": step})
    report(args.name, rows, ["w", "class_accuracy", "confidence", "w2_to_class",
                                               "classifier_test_accuracy"])


if __name__ == "__main__":
    main()
