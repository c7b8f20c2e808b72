"""The one speed-benchmark harness: compile excluded, interleaved blocks, median and spread.

A speed ratio between two implementations is only a result when both ran in the same process,
after compilation, in alternating blocks (A B A B ...) of equal work: the machine's load drifts
over seconds, and alternating blocks put both sides under the same drift. ``compare`` does that
and reports, per side, the median time per call over blocks with its interquartile range, and the
ratio as the median of per-round ratios (each round = one block of every side, back to back) with
its interquartile range; the load average before and after, library versions and the machine go
into the JSON next to the table.

    from benchmarks.harness import compare, report
    result = compare({"genjax": fn_a, "reference": fn_b}, calls_per_block=20, rounds=7)
    report("my_benchmark", result, work="batch 256, 8 couplings 2x64, one adam step")

Each ``fn`` must block until its result is ready (``jax.block_until_ready``) and do the same work
on every side (same network, batch and optimiser): say what the work is in ``work``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import pathlib
import platform
import time
from collections.abc import Callable

import numpy as np

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


@dataclasses.dataclass
class Comparison:
    """Seconds per call of each side in every block, and the per-round ratios to ``baseline``."""

    names: list[str]
    baseline: str
    calls_per_block: int
    block_seconds: dict[str, list[float]]  # side -> seconds per call, one entry per block
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def per_call(self, name: str) -> dict[str, float]:
        return _summary(self.block_seconds[name])

    def ratio(self, name: str) -> dict[str, float]:
        """``time(baseline) / time(name)`` per round: > 1 means ``name`` is faster."""
        rounds = np.asarray(self.block_seconds[self.baseline]) / np.asarray(self.block_seconds[name])
        return _summary(rounds.tolist())

    def rows(self) -> list[dict]:
        out = []
        for name in self.names:
            t = self.per_call(name)
            r = self.ratio(name)
            out.append({
                "side": name, "ms_per_call": 1e3 * t["median"], "ms_q25": 1e3 * t["q25"], "ms_q75": 1e3 * t["q75"],
                f"speedup_vs_{self.baseline}": r["median"], "speedup_q25": r["q25"], "speedup_q75": r["q75"],
                "blocks": len(self.block_seconds[name]),
            })
        return out


def _summary(values) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    return {"median": float(np.median(v)), "q25": float(np.percentile(v, 25)), "q75": float(np.percentile(v, 75)),
            "min": float(v.min()), "max": float(v.max())}


def _load() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def compare(sides: dict[str, Callable[[], object]], *, calls_per_block: int = 10, rounds: int = 7,
            warmup: int = 2, baseline: str | None = None) -> Comparison:
    """Time every side in ``rounds`` rounds of one block each, alternating the order per round.

    Args:
      sides: name -> a zero-argument function doing one unit of work and blocking on its result.
      calls_per_block: calls timed together (enough that a block lasts well over a millisecond).
      rounds: blocks per side; the medians are over these.
      warmup: untimed calls of every side first (compilation, caches).
      baseline: the side ratios are taken against (default: the last one).
    """
    names = list(sides)
    baseline = baseline or names[-1]
    for fn in sides.values():
        for _ in range(warmup):
            fn()
    load_before = _load()
    seconds = {n: [] for n in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]  # A B, then B A: neither side always goes first
        for name in order:
            fn = sides[name]
            start = time.perf_counter()
            for _ in range(calls_per_block):
                fn()
            seconds[name].append((time.perf_counter() - start) / calls_per_block)
    return Comparison(names, baseline, calls_per_block, seconds, load_before, _load())


def versions(*packages: str) -> dict[str, str]:
    out = {}
    for name in ("jax", "jaxlib", "flax", "optax", "diffrax", *packages):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict:
    import jax

    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


def report(name: str, results: dict[str, Comparison] | Comparison, *, work: str, packages: tuple[str, ...] = (),
           extra: dict | None = None) -> pathlib.Path:
    """Print each comparison as a table and write everything to ``benchmarks/results/<name>.json``."""
    if isinstance(results, Comparison):
        results = {"": results}
    print(f"work per call: {work}")
    record = {"work": work, "machine": machine(), "versions": versions(*packages), "comparisons": {}, **(extra or {})}
    for label, comp in results.items():
        if label:
            print(f"\n{label}")
        print(f"load average before/after (1 min): {comp.load_before[0]:.2f} / {comp.load_after[0]:.2f}; "
              f"{len(comp.block_seconds[comp.names[0]])} interleaved blocks of {comp.calls_per_block} calls per side")
        rows = comp.rows()
        cols = list(rows[0])
        _table(rows, cols)
        record["comparisons"][label or name] = {
            "rows": rows, "block_seconds": comp.block_seconds, "baseline": comp.baseline,
            "load_before": comp.load_before, "load_after": comp.load_after,
        }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def _table(rows: list[dict], cols: list[str]) -> None:
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    widths = {c: max(len(c), *(len(fmt(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(fmt(r[c]).ljust(widths[c]) for c in cols))
