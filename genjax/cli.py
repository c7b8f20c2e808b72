"""``genjax train | eval | sample | config | list | leaderboard`` (``genjax <command> --help`` for each).

    genjax train  --config experiments/fm_moons.py --workdir runs/fm --config.train.steps=2000
    genjax eval   --workdir runs/fm                      # config read back from the workdir
    genjax sample --workdir runs/fm --config.sample.num=5000 --config.sample.sampler=heun@8
    genjax config --config experiments/fm_moons.py       # every key, its value and meaning
    genjax list

Every error a user can cause (unknown key, wrong type, value out of range, unknown dataset, a bad
sampler spec, a missing or unwritable directory, a workdir of a different model) is printed as
one line naming what is wrong and what is allowed, with exit code 2. Several processes: pass
``--distributed`` to every one of them; the job is read from the environment (``python -m
genjax.launch`` on one machine, SLURM's ``srun``, a Cloud TPU VM, or ``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; see ``genjax.train.distributed``), and process 0
alone prints and writes shared files.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import pathlib
import sys
from collections.abc import Sequence

import ml_collections

from genjax.errors import GenjaxError

COMMANDS = {
    "train": "train a model from an experiment config (resuming its workdir)",
    "eval": "evaluate the latest checkpoint of a workdir on held-out data",
    "sample": "draw samples from the latest checkpoint of a workdir",
    "config": "print a config: every key, its value and what it means",
    "list": "list the runnable experiments, the datasets and the models",
    "leaderboard": "train every family on the same data and budget; one table (`genjax leaderboard --help`)",
}
OVERRIDES_HELP = """\
config overrides (any number, after the options):
  --config.<key>=<value>   set a config key; the value is parsed like the current one:
                           --config.train.steps=2000  --config.train.lr=3e-4  --config.train.plot=false
                           --config.model.hidden=(64,64)  --config.eval.samplers=default,heun@8
                           --config.model.ode.solver=heun  (family defaults may be set too)
  `genjax config --config FILE` lists every key with its value and meaning.
"""
EXAMPLES = {
    "train": "  genjax train --config experiments/fm_moons.py --workdir runs/fm --config.train.steps=2000",
    "eval": "  genjax eval --workdir runs/fm                  # writes runs/fm/eval_<step>.json",
    "sample": ("  genjax sample --workdir runs/fm --config.sample.num=5000 --config.sample.sampler=heun@8\n"
               "  # writes <out>/samples_step<step>_heun-8.npy and .png; --out defaults to <workdir>/samples"),
    "config": "  genjax config --config experiments/fm_moons.py --config.model.ode.solver=heun",
    "list": "  genjax list",
    "leaderboard": "  genjax leaderboard --quick",
}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (GenjaxError) instead of usage + exit."""

    def error(self, message: str):
        raise GenjaxError(f"{message} (see `{self.prog} --help`)")


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """``(other arguments, [(key, value)])``: the ``--config.<key>=<value>`` (or ``--config.<key>
    <value>``) overrides taken out of ``argv``, for scripts with their own options."""
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
    p = _Parser(prog="genjax", description="Generative models in JAX: train, evaluate and sample experiments.",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="commands:\n" + "\n".join(f"  {k:<8} {v}" for k, v in COMMANDS.items())
                + "\n\n" + OVERRIDES_HELP + "\n`genjax <command> --help` for each command's options.")
    sub = p.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    for name, summary in COMMANDS.items():
        s = sub.add_parser(name, help=summary, description=summary, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=(OVERRIDES_HELP if name != "list" else "") + "\nexample:\n" + EXAMPLES[name])
        if name in ("list", "leaderboard"):
            continue
        s.add_argument("--config", metavar="FILE", help="experiment file defining get_config()"
                       + ("" if name == "train" else " (default: the workdir's config.json)"))
        s.add_argument("--workdir", metavar="DIR", help="the run's directory"
                       + (" (default runs/<experiment>)" if name == "train" else ""))
        if name == "sample":
            s.add_argument("--out", metavar="DIR", help="output folder (default <workdir>/samples)")
        if name != "config":
            s.add_argument("--distributed", action="store_true",
                           help="join a multi-process JAX job described by the environment (genjax.launch, "
                                "SLURM, Cloud TPU, or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID)")
    return p


def _suggest_override(flag: str, value: str | None) -> str:
    """``--num`` -> ``--config.sample.num=VALUE`` when a config key ends with that name."""
    from genjax import config as gconfig

    name = flag.lstrip("-").split("=", 1)[0].replace("-", "_")
    keys = [k for k in gconfig.all_keys(gconfig.default_config()) if k.rsplit(".", 1)[-1] == name]
    if not keys:
        return ""
    shown = value if value is not None else "VALUE"
    return "; did you mean " + " or ".join(f"--config.{k}={shown}" for k in keys) + "?"


def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[tuple[str, str]]]:
    rest, overrides = split_overrides(argv)
    args, unknown = _parser().parse_known_args(rest)
    if args.command is None:
        raise GenjaxError(f"give a command: {', '.join(COMMANDS)} (see `genjax --help`)")
    if unknown:
        flag = unknown[0]
        value = flag.split("=", 1)[1] if "=" in flag else (unknown[1] if len(unknown) > 1 and not unknown[1].startswith("-") else None)
        raise GenjaxError(f"unrecognized argument {flag!r} for `genjax {args.command}`"
                          + (_suggest_override(flag, value) if flag.startswith("-") else "")
                          + f" (see `genjax {args.command} --help`)")
    return args, overrides


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
    elif workdir is not None:
        raise GenjaxError(f"workdir {workdir} holds no config.json: train into it first, or give --config FILE")
    else:
        raise GenjaxError("give --config FILE or --workdir DIR")
    for key, value in overrides:
        gconfig.apply_override(config, key, value)
    gconfig.validate(config)
    return config


def print_metrics(title: str, metrics: dict) -> None:
    """Prints ``title`` and one aligned ``name value`` line per metric."""
    print(title)
    width = max((len(k) for k in metrics), default=0)
    for k, v in metrics.items():
        if "[" in k:
            continue
        print(f"  {k:<{width}}  {v:.6g}" if isinstance(v, float) else f"  {k:<{width}}  {v}")


# -------------------------------------------------------------------------------------------
# list


def experiments_dir() -> pathlib.Path | None:
    """The installed ``experiments`` package (works from any working directory)."""
    spec = importlib.util.find_spec("experiments")
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def runnable_experiments() -> dict[str, str]:
    """``{name: one-line description}`` of the modules that define ``get_config()``."""
    root = experiments_dir()
    out = {}
    for path in sorted(root.glob("*.py")) if root else []:
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text())
        if not any(isinstance(n, ast.FunctionDef) and n.name == "get_config" for n in tree.body):
            continue
        doc = ast.get_docstring(tree) or ""
        out[path.stem] = " ".join(doc.split("\n\n", 1)[0].split())
    return out


def cmd_list() -> None:
    from genjax import data, registry

    print("experiments (genjax train --config experiments/<name>.py, or python -m experiments.<name>):")
    for name, doc in runnable_experiments().items():
        print(f"  {name:<26} {doc}")
    print("datasets:")
    print("  " + ", ".join(data.list_datasets()) + ", tfds:<name>")
    print("models (name: what; sampler specs name[@steps][:option=value]):")
    for name, entry in registry.entries().items():
        print(f"  {name:<14} {entry.summary}\n  {'':<14} samplers: {_samplers_line(entry.samplers)}")


def _samplers_line(table) -> str:
    from genjax.ode import ODE_SAMPLERS, SOLVERS

    names = list(table)
    parts = []
    if all(n in names for n in ODE_SAMPLERS if n != "default"):
        fixed = "|".join(n for n, info in SOLVERS.items() if not info.adaptive)
        adaptive = "|".join(n for n, info in SOLVERS.items() if info.adaptive)
        parts.append(f"ODE solvers ({fixed}@K; {adaptive}[@K][:rtol=][:atol=])")
        names = [n for n in names if n not in SOLVERS]
    return ", ".join([table[n].usage(n) for n in names] + parts)


# -------------------------------------------------------------------------------------------
# config


def cmd_config(config: ml_collections.ConfigDict) -> None:
    """Every key with its value and meaning; ``model.*`` as the family's builder reads it."""
    from genjax import config as gconfig
    from genjax import data, registry, train

    def load_run(workdir):
        with gconfig.recording():  # a teacher run's own keys are not this config's
            return train.load_run(workdir)

    rows = [(k, gconfig.lookup(config, k), gconfig.KEY_DOCS.get(k, "")) for k in gconfig.all_keys(config)
            if not k.startswith("model.")]
    dataset = data.get_dataset(config.data.name, **dict(config.data.options))
    with gconfig.recording() as read:
        registry.build_model(config.model, dataset, load_run=load_run)
    rows.append(("model.name", config.model.name, registry.entry(config.model.name).summary))
    rows += [(path, value, allowed + ("" if given else " (family default)")) for path, value, given, allowed in read]
    width = max(len(k) for k, _, _ in rows)
    vwidth = min(max(len(repr(v)) for _, v, _ in rows), 32)
    for key, value, meaning in rows:
        print(f"{key:<{width}}  {repr(value):<{vwidth}}  {meaning}")


# -------------------------------------------------------------------------------------------


def run(argv: Sequence[str]) -> int:
    if argv and argv[0] == "leaderboard":  # its own options: genjax.leaderboard
        from genjax import leaderboard

        return leaderboard.main(list(argv[1:]))
    args, overrides = _parse(argv)
    if args.command == "list":
        cmd_list()
        return 0
    if getattr(args, "distributed", False):
        from genjax.train.distributed import initialize

        initialize()
    if args.workdir is not None and not args.workdir.strip():
        raise GenjaxError("--workdir is empty (an unset shell variable?): give a directory")
    workdir = pathlib.Path(args.workdir) if args.workdir else None
    if workdir is None and args.command != "config":
        if args.command != "train" or args.config is None:
            raise GenjaxError(f"give --workdir DIR (`genjax {args.command} --help`)")
        workdir = pathlib.Path("runs") / pathlib.Path(args.config).stem
    config = load_config(args.config, workdir, overrides)
    if args.command == "config":
        cmd_config(config)
        return 0

    from genjax import train
    from genjax.train.distributed import is_primary

    if args.command == "train":
        results = train.train_and_evaluate(config, workdir)
        if not is_primary():
            return 0
        print_metrics(f"final metrics at step {results.pop('step')}:", results)
        print(f"wrote {workdir / 'final_metrics.json'}, {workdir / 'metrics.jsonl'}, "
              f"checkpoints in {workdir / 'checkpoints'}, plots in {workdir / 'plots'}")
    elif args.command == "eval":
        trainer, state, step = train.restore_for_eval(config, workdir)
        if not os.access(workdir, os.W_OK):
            raise GenjaxError(f"workdir {workdir} is not writable: eval writes eval_<step>.json there")
        results = trainer.evaluate(state)
        if not is_primary():
            return 0
        path = workdir / f"eval_{step}.json"
        path.write_text(json.dumps({"step": step, **results}, indent=2) + "\n")
        print_metrics(f"eval of {workdir} at step {step} (held-out data):", results)
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
    if jax.process_index() != 0:
        return
    stem = f"samples_step{step}_{config.sample.sampler.replace('@', '-').replace(':', '_')}"
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
