"""``genjax train | eval | sample | list``.

    genjax train  --config experiments/fm_moons.py --workdir runs/fm --config.train.steps=2000
    genjax eval   --workdir runs/fm                      # config read back from the workdir
    genjax sample --workdir runs/fm --config.sample.num=5000 --config.sample.sampler=heun@8
    genjax list

A user error (unknown key, wrong type, value out of range, unknown dataset, a workdir of a
different model) is printed as one line naming the key and what is allowed, with exit code 2.
Multi-host: pass ``--distributed`` on every host (calls ``jax.distributed.initialize()``, which
reads the coordinator address and process ids from the cluster environment).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from collections.abc import Sequence

import ml_collections

from genjax.errors import GenjaxError

COMMANDS = ("train", "eval", "sample", "list")


def _split_overrides(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    rest, overrides = [], []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--config."):
            key, eq, value = arg[len("--config."):].partition("=")
            if not eq:
                if i + 1 >= len(args):
                    raise GenjaxError(f"config override '--config.{key}' has no value (use --config.{key}=VALUE)")
                value = args[i + 1]
                i += 1
            overrides.append((key, value))
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genjax", description="Generative models in JAX.")
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("--config", help="experiment file defining get_config() (eval/sample: default is the workdir's)")
    p.add_argument("--workdir", help="where checkpoints, metrics.jsonl and plots go (default runs/<experiment>)")
    p.add_argument("--out", help="sample: output folder (default <workdir>/samples)")
    p.add_argument("--distributed", action="store_true", help="call jax.distributed.initialize() (multi-host)")
    return p


def _initialize_distributed() -> None:
    import jax

    try:
        jax.distributed.initialize()
    except (ValueError, RuntimeError) as e:
        raise GenjaxError(
            f"--distributed found no cluster ({str(e).splitlines()[0]}): run under SLURM or on a Cloud TPU VM, "
            "or set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID on every process"
        ) from None


def load_config(config_path: str | None, workdir: pathlib.Path | None, overrides) -> ml_collections.ConfigDict:
    from genjax import config as gconfig

    if config_path is None and workdir is not None and not workdir.is_dir():
        what = "does not exist" if not workdir.exists() else "is a file, not a directory"
        raise GenjaxError(f"workdir {workdir} {what} (give the directory `genjax train` wrote)")
    if config_path is not None:
        config = gconfig.load_config_file(config_path)
    elif workdir is not None and (workdir / "config.json").exists():
        from genjax.train.loop import read_workdir_config

        config = read_workdir_config(workdir)
    else:
        raise GenjaxError("give --config FILE (or a --workdir that holds a config.json)")
    for key, value in overrides:
        gconfig.apply_override(config, key, value)
    gconfig.validate(config)
    return config


def _print_metrics(title: str, metrics: dict) -> None:
    print(title)
    width = max((len(k) for k in metrics), default=0)
    for k, v in metrics.items():
        if "[" in k:
            continue
        print(f"  {k:<{width}}  {v:.6g}" if isinstance(v, float) else f"  {k:<{width}}  {v}")


def cmd_list() -> None:
    from genjax import data, registry

    root = pathlib.Path.cwd() / "experiments"
    if not root.is_dir():
        root = pathlib.Path(__file__).resolve().parent.parent / "experiments"
    print("experiments (python -m experiments.<name>, or genjax train --config experiments/<name>.py):")
    for f in sorted(root.glob("*.py")) if root.is_dir() else []:
        if f.name.startswith("_"):
            continue
        doc = ""
        text = f.read_text()
        if text.lstrip().startswith(('"""', "'''")):
            doc = text.lstrip()[3:].split("\n", 1)[0].strip().rstrip('"')
        print(f"  {f.stem:<28} {doc}")
    print("datasets:")
    for name in data.list_datasets():
        print(f"  {name}")
    print("models:")
    for name in registry.list_models():
        print(f"  {name}")


def run(argv: Sequence[str]) -> int:
    rest, overrides = _split_overrides(argv)
    args = _parser().parse_args(rest)
    if args.command == "list":
        cmd_list()
        return 0
    if args.distributed:
        _initialize_distributed()
    if args.workdir is not None and not args.workdir.strip():
        raise GenjaxError("--workdir is empty (an unset shell variable?): give a directory")
    workdir = pathlib.Path(args.workdir) if args.workdir else None
    if workdir is None:
        if args.config is None:
            raise GenjaxError("give --workdir DIR (and --config FILE to start a new run)")
        workdir = pathlib.Path("runs") / pathlib.Path(args.config).stem
    config = load_config(args.config, workdir, overrides)

    from genjax import train

    if args.command == "train":
        results = train.train_and_evaluate(config, workdir)
        _print_metrics(f"final metrics at step {results.pop('step')}:", results)
        print(f"wrote {workdir / 'final_metrics.json'}, {workdir / 'metrics.jsonl'}, "
              f"checkpoints in {workdir / 'checkpoints'}, plots in {workdir / 'plots'}")
    elif args.command == "eval":
        trainer, state, step = train.restore_for_eval(config, workdir)
        if not os.access(workdir, os.W_OK):
            raise GenjaxError(f"workdir {workdir} is not writable: eval writes eval_<step>.json there")
        results = trainer.evaluate(state)
        path = workdir / f"eval_{step}.json"
        path.write_text(json.dumps({"step": step, **results}, indent=2) + "\n")
        _print_metrics(f"eval of {workdir} at step {step} (held-out data):", results)
        print(f"wrote {path}")
    elif args.command == "sample":
        _sample(config, workdir, pathlib.Path(args.out) if args.out else workdir / "samples")
    return 0


def _sample(config, workdir: pathlib.Path, out: pathlib.Path) -> None:
    import jax
    import numpy as np

    from genjax import train

    trainer, state, step = train.restore_for_eval(config, workdir)
    train.check_writable_dir(out, "--out")
    params = trainer.eval_params(state)[0]
    key = jax.random.key(config.sample.seed)
    x, stats = train.draw_samples(trainer.model, params, key, config.sample.num, config.sample.sampler)
    x = np.asarray(x)
    stem = f"samples_step{step}_{config.sample.sampler.replace('@', '-')}"
    np.save(out / f"{stem}.npy", x)
    png = train.plot_samples(trainer.model, params, trainer.dataset, out / f"{stem}.png",
                             num=min(config.sample.num, 5000), sampler=config.sample.sampler)
    extra = ", ".join(f"{k}={float(v):.4g}" for k, v in stats.items())
    print(f"wrote {x.shape[0]} samples to {out / (stem + '.npy')} and {png}" + (f" ({extra})" if extra else ""))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return run(argv)
    except GenjaxError as e:
        print(f"genjax: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
