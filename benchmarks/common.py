"""Shared helpers for benchmarks: timing, a printed table and a JSON record."""

from __future__ import annotations

import json
import pathlib
import platform
import time
from collections.abc import Callable

import jax

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def time_call(fn: Callable[[], object], *, repeats: int = 5, min_time: float = 0.5) -> float:
    """Median seconds per call of ``fn`` (which must block until its result is ready)."""
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time / repeats:
                break
        times.append(elapsed / n)
    times.sort()
    return times[len(times) // 2]


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


def report(name: str, rows: list[dict], columns: list[str]) -> pathlib.Path:
    """Print ``rows`` as a table and write them with machine facts to ``results/<name>.json``."""
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
