"""The digits transfer of ``experiments/dsbm_digits.py`` (1s <-> 7s): image pairs and a classifier's verdict.

    python -m experiments.dsbm_digits          # trains runs/dsbm_digits
    python -m benchmarks.bridge_digits         # reads it

Every held-out 1 is carried forward ``--draws`` times by the learned SDE (20 Euler-Maruyama steps,
the last without noise) and every held-out 7 backward as often. A logistic-regression classifier
fitted on the training split of all ten classes (scikit-learn, on the same dequantized values)
says which digit each generated image is; its accuracy on the real held-out 1s and 7s is the
reference. The transport cost of the generated pairs is compared with exact OT and the
independent pairing between the held-out 1s and 7s (entropic OT at 2 sigma^2 from the run's
evaluation). Writes ``benchmarks/results/bridge_digits.{json,png}``.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax
import numpy as np

from benchmarks.common import RESULTS, report


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from genjax import data as gdata
    from genjax import metrics as gm
    from genjax.train import load_workdir

    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="runs/dsbm_digits")
    p.add_argument("--draws", type=int, default=10)
    args = p.parse_args()
    run = load_workdir(args.workdir)
    model, params = run.model, run.params()
    source_class = run.config.model.source_options.classes[0]
    target_class = run.config.data.options.classes[0]

    whole = gdata.get_dataset("digits")
    train = whole.train_batch(jax.random.key(0), 0, whole.num_train)
    classifier = LogisticRegression(max_iter=2000).fit(np.asarray(train["x"]), np.asarray(train["label"]))

    x0 = np.asarray(model.source.held_out(10_000))  # all held-out examples of the source class
    x1 = np.asarray(model.target.held_out(10_000))
    k = jax.random.key(7)
    fwd = jax.jit(lambda p, key, x: model.sample(p, key, x.shape[0], sampler="em:denoise=true", x_start=x))
    bwd = jax.jit(lambda p, key, x: model.sample(p, key, x.shape[0], sampler="em:direction=backward:denoise=true",
                                                 x_start=x))
    start0, start1 = np.repeat(x0, args.draws, axis=0), np.repeat(x1, args.draws, axis=0)
    gen1 = np.asarray(fwd(params, jax.random.fold_in(k, 0), start0))
    gen0 = np.asarray(bwd(params, jax.random.fold_in(k, 1), start1))

    def share(x, label):
        return float(np.mean(classifier.predict(x) == label))

    final = json.loads((pathlib.Path(args.workdir) / "final_metrics.json").read_text())
    row = {
        "step": run.step,
        "source_class": source_class, "target_class": target_class,
        "held_out_source": int(x0.shape[0]), "held_out_target": int(x1.shape[0]), "draws": args.draws,
        "forward_classified_as_target": share(gen1, target_class),
        "backward_classified_as_source": share(gen0, source_class),
        "classifier_on_real_target": share(x1, target_class),
        "classifier_on_real_source": share(x0, source_class),
        "forward_still_source": share(gen1, source_class),
        "cost_forward": float(np.mean(np.sum((start0 - gen1) ** 2, axis=-1))),
        "cost_backward": float(np.mean(np.sum((gen0 - start1) ** 2, axis=-1))),
        "cost_exact_ot": float(gm.w2(x0, x1) ** 2),
        "cost_independent": float(np.mean(np.sum((x0[:, None] - x1[None]) ** 2, axis=-1))),
        "cost_entropic_eval": final.get("cost/entropic"),
        "w2_forward_eval": final.get("w2/em:denoise=true"), "w2_backward_eval": final.get("backward/w2"),
    }
    report("bridge_digits", [row], list(row))

    rows = 8
    grid = np.concatenate([x0[:rows], gen1[:: args.draws][:rows], x1[:rows], gen0[:: args.draws][:rows]])
    gm.image_grid(grid.reshape(-1, 8, 8, 1), RESULTS / "bridge_digits.png", ncols=rows,
                  title=f"rows: held-out {source_class}s, forward ends; held-out {target_class}s, backward ends")


if __name__ == "__main__":
    main()
