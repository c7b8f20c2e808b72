"""Rectified flow with k reflows: round 1 trains on the experiment's config, round k+1 on pairs of round k.

    python -m experiments.reflow_rounds --config experiments/rf_moons.py --workdir runs/rf_moons --reflows 2
    python -m experiments.rf_moons          # the same, with that experiment's defaults

Round k (the k-rectified flow) is an ordinary run in ``<workdir>/rf<k>``, trained and evaluated
by ``genjax.train.train_and_evaluate`` and resumable like any run. Before round k+1, the
trained round k (its evaluation params) generates ``--pairs`` pairs ``(x0, ODE(x0))`` with the
default solver, written to ``<workdir>/rf<k+1>/pairs.npz``; round k+1 is the same config with
``model.coupling = "pairs"`` and ``model.pairs`` pointing at that file, so ``genjax eval
--workdir <workdir>/rf<k+1>`` works on its own. Each round trains from scratch.
``--config.<key>=<value>`` overrides apply to every round.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import jax


def run_rounds(config, workdir, reflows: int, num_pairs: int = 50_000) -> list[dict]:
    from genjax import train
    from genjax.flow_matching.reflow import generate_pairs, save_pairs

    workdir = pathlib.Path(workdir)
    results = []
    previous = None
    for k in range(1, reflows + 2):
        cfg = config.copy_and_resolve_references()
        rdir = workdir / f"rf{k}"
        if previous is not None:
            pairs = rdir / "pairs.npz"
            if not pairs.exists():
                trainer, state, _ = train.restore_for_eval(previous, workdir / f"rf{k - 1}")
                params = trainer.eval_params(state)[0]
                key = jax.random.fold_in(jax.random.key(cfg.seed), 1000 + k)
                x0, x1 = generate_pairs(trainer.model, params, key, num_pairs)
                save_pairs(pairs, x0, x1, round=k - 1)
                print(f"wrote {num_pairs} pairs of rf{k - 1} to {pairs}", flush=True)
            cfg.model.coupling = "pairs"
            cfg.model.pairs = str(pairs)
        print(f"== {k}-rectified flow in {rdir}", flush=True)
        res = train.train_and_evaluate(cfg, rdir)
        results.append(res)
        previous = cfg
    return results


def main(argv=None) -> int:
    from genjax import config as gconfig
    from genjax.cli import print_metrics, split_overrides
    from genjax.errors import GenjaxError

    argv = sys.argv[1:] if argv is None else argv
    rest, overrides = split_overrides(argv)
    p = argparse.ArgumentParser(prog="reflow_rounds")
    p.add_argument("--config", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--reflows", type=int, default=2)
    p.add_argument("--pairs", type=int, default=50_000)
    args = p.parse_args(rest)
    try:
        config = gconfig.load_config_file(args.config)
        for key, value in overrides:
            gconfig.apply_override(config, key, value)
        gconfig.validate(config)
        results = run_rounds(config, args.workdir, args.reflows, args.pairs)
    except GenjaxError as e:
        print(f"reflow_rounds: error: {e}", file=sys.stderr)
        return 2
    for k, res in enumerate(results, 1):
        print_metrics(f"{k}-rectified flow, step {res.pop('step')}:", res)
    summary = pathlib.Path(args.workdir) / "rounds.json"
    summary.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
