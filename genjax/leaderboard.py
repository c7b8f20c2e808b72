"""The leaderboard: one default model of every registered family on the same data, one table.

    genjax leaderboard [--data 8gaussians,moons,digits] [--budget steps=2000 | seconds=120]
                       [--seeds 3] [--quick] [--workdir runs/leaderboard] [--out DIR]

Which model stands for a family, and with which experiment, is declared by the family itself:
``ModelEntry.leaderboard = {"2d": "<experiment>", "digits": "<experiment>"}`` (a dataset's own
name, ``"8gaussians": ...``, before its kind) in its package's ``MODELS`` (read through the
registry, so a family added later appears without editing this module). A family with no
declaration for a dataset gets a row that says so.

Every run gets the same budget and the same data pipeline settings: ``train.steps`` (or a
wall-clock budget converted to steps from a measured rate), ``data.batch_size``, and Adam at a
constant learning rate, unless the family's declaration overrides an optimiser key (stated in the
row's notes); ``train.num_seeds`` seeds train in one program and every number is their mean with
the standard error over seeds. Evaluation is the Model contract's (``genjax.train.evaluate``):
the likelihood with its declared kind, W2 to held-out data over several draws against the
floor, the NFE of the default sampler; the leaderboard adds the wall-clock time to draw 2000
samples, the training time (from the run's own log) and the parameter count.

Runs live in ``<workdir>/<dataset>/<model>``; a run whose final metrics exist is reused (the
workdir refuses a different config, so a new budget needs a new ``--workdir``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import importlib.metadata
import json
import os
import math
import pathlib
import platform
import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from genjax import config as gconfig
from genjax import data as gdata
from genjax import registry
from genjax.errors import ConfigError, GenjaxError

DATASETS = {"8gaussians": "2d", "moons": "2d", "digits": "digits"}
BATCH_SIZE = 256
LR = 1e-3
SAMPLE_NUM = 2000
FIGURE_SAMPLES = 1000


@dataclasses.dataclass(frozen=True)
class Budget:
    """``steps``: a fixed number of optimiser steps; ``seconds``: a wall-clock training budget,
    converted to steps from the rate of a short timed run of the same config."""

    kind: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Budget:
        kind, sep, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or kind not in ("steps", "seconds") or number <= 0:
            raise ConfigError(f"--budget {text!r}: give steps=N or seconds=S (a positive number)")
        return cls(kind, int(number) if kind == "steps" else number)

    def __str__(self) -> str:
        return f"{self.kind}={self.value:g}"


@dataclasses.dataclass(frozen=True)
class Candidate:
    family: str
    model: str
    experiment: str | None  # None: the family declares nothing for this kind of data
    overrides: dict
    tiny: dict = dataclasses.field(default_factory=dict)  # the registry's small model settings


def candidates(kind: str, dataset: str | None = None) -> list[Candidate]:
    """One candidate per family declaration for data of ``kind`` ("2d" or "digits"), the
    declaration for ``dataset`` by name first where the family makes one (an experiment tuned
    to that dataset, e.g. its sigma_data); a family that declares none still gets one (with
    ``experiment=None``), so it is never dropped."""
    out, declared = [], set()
    families = {}
    for name, entry in registry.entries().items():
        families.setdefault(entry.family, []).append(name)
        experiment = entry.leaderboard.get(dataset) if dataset is not None else None
        experiment = experiment or entry.leaderboard.get(kind)
        if experiment is not None:
            out.append(Candidate(entry.family, name, experiment, dict(entry.leaderboard_overrides),
                                 dict(entry.tiny)))
            declared.add(entry.family)
    for family, names in sorted(families.items()):
        if family not in declared:
            out.append(Candidate(family, "/".join(sorted(names)), None, {}))
    return sorted(out, key=lambda c: (c.family, c.model))


def _experiment_config(name: str):
    try:
        module = importlib.import_module(f"experiments.{name}")
    except ModuleNotFoundError as e:
        raise ConfigError(f"leaderboard experiment {name!r} is not an importable experiment module ({e})") from None
    return module.get_config()


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def resolved_overrides(cand: Candidate, steps: int) -> dict[str, str]:
    """The family's overrides as override strings, ``"{steps}"`` in a value being the run's budget
    (a curriculum that spans the whole run)."""
    return {key: str(value).format(steps=steps) for key, value in cand.overrides.items()}


def run_config(cand: Candidate, dataset: str, steps: int, seeds: int, *, quick: bool, tiny: bool = False,
               seed: int = 0):
    """The config of one leaderboard run: the family's experiment under the common budget
    (``tiny``: with the registry's small model settings, for smoke tests)."""
    c = _experiment_config(cand.experiment)
    c.seed = seed
    c.data.name = dataset
    c.data.batch_size = BATCH_SIZE
    t = c.train
    t.steps = steps
    t.num_seeds = seeds
    t.optimizer, t.lr, t.schedule, t.warmup_steps = "adam", LR, "constant", 0
    # A family's EMA (0.999 in most experiments) would keep 0.999^2000 = 13.5 % of the initial
    # parameters after the default budget: the EMA ramps up, as diffusers' EMAModel does.
    t.ema_warmup = t.ema_decay > 0
    t.steps_per_dispatch = max(1, min(t.steps_per_dispatch, steps))
    t.log_every = max(1, min(500, steps))
    t.checkpoint_every = steps
    t.eval_every = 0
    t.plot = False
    t.progress = False
    e = c.eval
    e.num_samples = SAMPLE_NUM
    e.repeats = 2 if quick else 5
    e.samplers = ("default",)
    e.mmd = False
    e.extra_metrics = False  # each family's own metrics are not columns of the table
    e.max_test_examples = 100 if quick else 0
    if tiny:
        e.repeats, e.max_test_examples = 2, 50
        for key, value in _flat(cand.tiny).items():
            gconfig.apply_override(c, f"model.{key}", repr(value) if not isinstance(value, str) else value)
    for key, value in resolved_overrides(cand, steps).items():
        gconfig.apply_override(c, key, value)
    gconfig.validate(c)
    return c


def _count(tree) -> int:
    return int(sum(np.size(a) for a in jax.tree_util.tree_leaves(tree)))


def _train_seconds(workdir: pathlib.Path) -> float:
    """Training wall time from the run's log: the sum over windows of steps / rate (no evaluation)."""
    seconds, last = 0.0, 0
    for line in (workdir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("split") == "train" and record.get("steps_per_sec"):
            seconds += (record["step"] - last) / record["steps_per_sec"]
            last = record["step"]
    return seconds


def _seconds_to_steps(cand: Candidate, dataset: str, seconds: float, seeds: int, quick: bool, tiny: bool) -> int:
    """Steps that fit a wall-clock budget, from the steady rate of a short timed dispatch."""
    from genjax import train

    probe = run_config(cand, dataset, 50, seeds, quick=quick, tiny=tiny)
    trainer = train.Trainer.from_config(probe)
    state = trainer.init()
    k = probe.train.steps_per_dispatch
    state, m = trainer.run(state, 0, k)  # compile
    jax.block_until_ready(m)
    start, step = time.perf_counter(), k
    while time.perf_counter() - start < 2.0:
        state, m = trainer.run(state, step, k)
        step += k
    jax.block_until_ready(m)
    rate = (step - k) / (time.perf_counter() - start)
    return max(k, int(rate * seconds) // k * k)


def _seed_stats(results: dict, name: str, seeds: int) -> tuple[float, float]:
    """Mean over seeds and its standard error (nan with one seed)."""
    if name not in results:
        return float("nan"), float("nan")
    if seeds == 1:
        return float(results[name]), float("nan")
    values = np.asarray([results[f"{name}[{i}]"] for i in range(seeds)], np.float64)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(seeds))


def _sample_seconds(model, params, num: int, timed: int) -> tuple[float, np.ndarray]:
    """The median wall time of ``timed`` draws of ``num`` samples after a first, untimed one
    (which compiles, unless the evaluation already did), and that first draw (for the figure)."""
    from genjax.train import draw_samples

    key = jax.random.key(0)
    first = np.asarray(jax.block_until_ready(draw_samples(model, params, key, num, "default")[0]))
    times = []
    for i in range(timed):
        start = time.perf_counter()
        jax.block_until_ready(draw_samples(model, params, jax.random.fold_in(key, i + 1), num, "default"))
        times.append(time.perf_counter() - start)
    return float(np.median(times)), first


def run_row(cand: Candidate, dataset: str, budget: Budget, seeds: int, root: pathlib.Path, *,
            quick: bool, tiny: bool = False) -> dict[str, Any]:
    """Train (or reuse) and measure one family on one dataset: a row of the table."""
    from genjax import train

    row: dict[str, Any] = {"family": cand.family, "model": cand.model, "data": dataset}
    kind = DATASETS[dataset]
    if cand.experiment is None:
        row["note"] = f"the family declares no leaderboard experiment for {kind} data"
        return row
    steps = (budget.value if budget.kind == "steps"
             else _seconds_to_steps(cand, dataset, budget.value, seeds, quick, tiny))
    config = run_config(cand, dataset, int(steps), seeds, quick=quick, tiny=tiny)
    workdir = root / dataset / cand.model
    final = workdir / "final_metrics.json"
    reused = final.exists() and json.loads(final.read_text()).get("step") == config.train.steps
    trainer = train.Trainer.from_config(config)
    if reused:
        train.check_workdir_config(workdir, config)
        results = json.loads(final.read_text())
    else:
        results = train.train_and_evaluate(config, workdir, trainer=trainer)
    params = train.load_workdir(workdir, config).params()
    # the trainer's model: its sampler compiled for the evaluation's 2000 samples is reused
    sample_seconds, samples = _sample_seconds(trainer.model, params, SAMPLE_NUM, 1 if quick else 3)
    row.update({
        "experiment": cand.experiment,
        "steps": int(results["step"]),
        "seeds": seeds,
        "train_seconds": _train_seconds(workdir),
        "params": _count(params),
        "sample_seconds": sample_seconds,
        "reused": bool(reused),
        "_samples": samples[:FIGURE_SAMPLES],  # for the figure; not written to the JSON
    })
    if cand.overrides:
        row["note"] = "overrides: " + ", ".join(f"{k}={v}" for k, v in
                                                resolved_overrides(cand, config.train.steps).items())
    kind_of_logp = results.get("log_prob_kind")
    row["likelihood_kind"] = kind_of_logp or "none"
    for name in ("nll", "bits_per_dim", "w2/default", "w2_ratio/default", "nfe/default"):
        mean, se = _seed_stats(results, name, seeds)
        short = name.split("/")[0]
        row[short], row[f"{short}_se"] = mean, se
    row["w2_floor"] = float(results.get("w2_floor", float("nan")))
    if kind_of_logp is None:
        row["nll"] = row["bits_per_dim"] = None
        row["nll_note"] = "no density (sampler only)"
    return row


# ---------------------------------------------------------------------------------------------
# output


def _fmt(value, se=None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    if isinstance(value, float):
        text = f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.0f}"
        if se is not None and math.isfinite(se):
            text += f" ± {se:.2g}"
        return text
    return str(value)


COLUMNS = ("family / model", "likelihood (nats)", "kind", "bits/dim", "W2", "W2 / floor", "NFE",
           "sample 2000 (s)", "train (s)", "steps", "params")


def _cells(row: dict) -> list[str]:
    name = f"{row['family']} / {row['model']}"
    if "experiment" not in row:
        return [name] + ["—"] * (len(COLUMNS) - 2) + [row.get("note", "")]
    nll = "no density" if row["nll"] is None else _fmt(row["nll"], row["nll_se"])
    bpd = "—" if row["nll"] is None or row["data"] != "digits" else _fmt(row["bits_per_dim"], row["bits_per_dim_se"])
    nfe = _fmt(row["nfe"]) if math.isfinite(row["nfe"]) else "1 pass"
    return [name, nll, row["likelihood_kind"], bpd, _fmt(row["w2"], row["w2_se"]),
            _fmt(row["w2_ratio"], row["w2_ratio_se"]), nfe, _fmt(row["sample_seconds"], digits=2),
            _seconds(row["train_seconds"]), str(row["steps"]), str(row["params"])]


def _load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def header(budget: Budget, seeds: int, quick: bool) -> str:
    versions = {}
    for name in ("jax", "flax", "optax", "diffrax"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, backend {jax.default_backend()} ({jax.devices()[0].device_kind})"
    return (f"budget {budget} per run, batch {BATCH_SIZE}, Adam lr {LR:g} constant, the family's EMA (if any) "
            f"with warmup, {seeds} seed(s) "
            f"(mean ± standard error over seeds){', quick' if quick else ''}; {machine}; "
            + ", ".join(f"{k} {v}" for k, v in versions.items())
            + f"; {datetime.date.today().isoformat()}")


def markdown(rows: list[dict], head: str) -> str:
    lines = [f"Leaderboard: {head}", ""]
    for dataset in dict.fromkeys(r["data"] for r in rows):
        lines += [f"**{dataset}**", "", "| " + " | ".join(COLUMNS) + " | notes |",
                  "|" + " --- |" * (len(COLUMNS) + 1)]
        for r in rows:
            if r["data"] == dataset:
                cells = _cells(r)
                notes = cells[len(COLUMNS)] if len(cells) > len(COLUMNS) else r.get("note", "")
                lines.append("| " + " | ".join(cells[: len(COLUMNS)]) + f" | {notes} |")
        lines.append("")
    lines.append("W2: exact OT between model samples and held-out data, averaged over draws; the floor is "
                 "the W2 between two independent draws of the data (digits: the test set). Likelihood "
                 "kinds: exact (change of variables), bound (ELBO / importance-weighted), estimate "
                 "(stochastic log-det). NFE: network evaluations per sample of the default sampler.")
    return "\n".join(lines) + "\n"


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def summary(rows: list[dict], head: str) -> str:
    """One line per family across the datasets (the README's table): the likelihood and W2 / floor
    on each dataset, the NFE of the default sampler and the training time; the per-dataset
    tables (``markdown``) hold every column."""
    datasets = list(dict.fromkeys(r["data"] for r in rows))
    names = list(dict.fromkeys(f"{r['family']} / {r['model']}" for r in rows))
    by = {(f"{r['family']} / {r['model']}", r["data"]): r for r in rows}
    cols = ["family / model", "likelihood"]
    for d in datasets:
        cols += [f"{d} {'bits/dim' if DATASETS[d] == 'digits' else 'NLL'}", f"{d} W2 / floor"]
    cols += ["NFE", "train (s)"]
    lines = [f"Leaderboard: {head}", "", "| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for name in names:
        done = [by[(name, d)] for d in datasets if "experiment" in by.get((name, d), {})]
        kinds = sorted({r["likelihood_kind"] for r in done})
        cells, train_seconds = [name, "/".join(kinds) if done else "—"], []
        for d in datasets:
            r = by.get((name, d))
            if r is None or "experiment" not in r:
                cells += ["—" if r is None else "failed" if "failed" in r.get("note", "") else "not modelled", "—"]
                train_seconds.append("—")
                continue
            train_seconds.append(_seconds(r["train_seconds"]))
            if r["nll"] is None:
                cells.append("no density")
            elif DATASETS[d] == "digits":
                cells.append(_fmt(r["bits_per_dim"], r["bits_per_dim_se"]))
            else:
                cells.append(_fmt(r["nll"], r["nll_se"]))
            cells.append(_fmt(r["w2_ratio"], r["w2_ratio_se"]))
        nfes = [_fmt(r["nfe"], digits=3) if math.isfinite(r["nfe"]) else "1" for r in done]
        cells.append(" / ".join(dict.fromkeys(nfes)) or "—")
        cells.append(" / ".join(train_seconds))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Likelihood in nats on the 2-D sets, bits/dim on digits (mean ± standard error over seeds); "
              "NFE per sample (one per dataset where they differ); training time per dataset in the order of "
              "the columns. Every column per dataset: leaderboard.md."]
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: pathlib.Path) -> pathlib.Path:
    """Samples of every family side by side (one row of panels per dataset; each row's
    ``_samples``, drawn when its sampling time was measured) and W2 / floor against the time to
    draw 2000 samples."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    done = [r for r in rows if "experiment" in r]
    datasets = list(dict.fromkeys(r["data"] for r in done))
    families = list(dict.fromkeys(f"{r['family']} / {r['model']}" for r in done))
    if not done:
        return path
    fig = Figure(figsize=(2.4 * (len(families) + 1), 2.4 * len(datasets)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(datasets), len(families) + 1, squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, name in enumerate(families):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            row = next((r for r in done if r["data"] == dataset and f"{r['family']} / {r['model']}" == name), None)
            if i == 0:
                ax.set_title(name, fontsize=8)
            if row is None:
                continue
            x = np.asarray(row["_samples"]).reshape(len(row["_samples"]), -1)
            if DATASETS[dataset] == "2d":
                ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.5)
                ax.set_xlim(-4.5, 4.5)
                ax.set_ylim(-4.5, 4.5)
            else:
                side = int(math.isqrt(x.shape[1]))
                tiles = x[:16].reshape(4, 4, side, side).transpose(0, 2, 1, 3).reshape(4 * side, 4 * side)
                ax.imshow(tiles, cmap="gray")
            if j == 0:
                ax.set_ylabel(dataset)
        ax = axes[i][-1]
        for r in done:
            if r["data"] == dataset and math.isfinite(r["w2_ratio"]):
                ax.scatter(r["sample_seconds"], r["w2_ratio"], s=12)
                ax.annotate(r["model"], (r["sample_seconds"], r["w2_ratio"]), fontsize=6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("seconds for 2000 samples", fontsize=7)
        ax.set_ylabel("W2 / floor", fontsize=7)
        ax.tick_params(labelsize=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


# ---------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise GenjaxError(f"{message} (see `genjax leaderboard --help`)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genjax leaderboard", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=",".join(DATASETS), help=f"comma-separated, of {', '.join(DATASETS)}")
    p.add_argument("--budget", default=None, help="steps=N or seconds=S per run (default steps=2000; --quick: steps=300)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per run, trained in one program (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="a few hundred steps, light evaluation: a smoke test of every family")
    p.add_argument("--tiny", action="store_true", help="the registry's tiny model sizes (tests and smoke runs)")
    p.add_argument("--families", default=None, help="comma-separated family names (default: every registered family)")
    p.add_argument("--workdir", default="runs/leaderboard", help="where the runs are trained (and reused from)")
    p.add_argument("--out", default=None, help="where the table, JSON and figure go (default: the workdir)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    budget = Budget.parse(args.budget or ("steps=300" if args.quick else "steps=2000"))
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: give a positive number of seeds")
    datasets = [d.strip() for d in args.data.split(",") if d.strip()]
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ConfigError(f"--data {','.join(unknown)}: the leaderboard's datasets are {', '.join(DATASETS)}")
    wanted = None if args.families is None else {f.strip() for f in args.families.split(",")}
    root = pathlib.Path(args.workdir)
    out = pathlib.Path(args.out) if args.out else root
    head = header(budget, seeds, args.quick) + (", tiny models" if args.tiny else "")
    rows = []
    start = time.perf_counter()
    load_before = _load_average()
    for dataset in datasets:
        gdata.get_dataset(dataset)  # an unknown or unavailable dataset fails before any training
        for cand in candidates(DATASETS[dataset], dataset):
            if wanted is not None and cand.family not in wanted:
                continue
            print(f"[leaderboard] {dataset}: {cand.family} / {cand.model}", flush=True)
            row_start = time.perf_counter()
            try:
                rows.append(run_row(cand, dataset, budget, seeds, root, quick=args.quick, tiny=args.tiny))
            except GenjaxError as e:  # one family's failure is its row, not the end of the table
                rows.append({"family": cand.family, "model": cand.model, "data": dataset, "note": f"failed: {e}"})
            # wall time of the row: training (unless reused), compilation and evaluation
            rows[-1]["row_seconds"] = time.perf_counter() - row_start
            print(f"[leaderboard] {dataset}: {cand.family} / {cand.model} took {rows[-1]['row_seconds']:.0f} s",
                  flush=True)
    elapsed = time.perf_counter() - start
    # Times in the table are wall-clock on this machine: say how busy it was while they were taken.
    load = ("" if load_before is None
            else f"; load average (1 min) {load_before:.1f} at the start, {_load_average():.1f} at the end")
    reused = sum(bool(r.get("reused")) for r in rows)
    head += f"; run time {elapsed / 60:.1f} min{load}" + (f" ({reused} of {len(rows)} runs reused from the workdir)"
                                                          if reused else "")
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, head)
    (out / "leaderboard.md").write_text(table)
    (out / "leaderboard_summary.md").write_text(summary(rows, head))
    public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    (out / "leaderboard.json").write_text(json.dumps({"header": head, "rows": public}, indent=2, default=float) + "\n")
    png = figure(rows, out / "leaderboard.png")
    print(table)
    print(f"wrote {out / 'leaderboard.md'}, {out / 'leaderboard_summary.md'}, {out / 'leaderboard.json'}, {png}")
    return 0
