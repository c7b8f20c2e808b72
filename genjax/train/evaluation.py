"""Evaluation derived from the Model contract (``genjax.model``).

``log_prob`` (when the model declares a ``log_prob_kind``) gives NLL and bits/dim on held-out
data, labelled with that kind; ``sample_with_stats`` gives W2 (exact OT) and MMD to held-out data
for low-dimensional sets, with the W2 *floor* (two independent draws of the data itself) so a
number can be read against what a perfect model would score, and the NFE of each sampler; a
family adds its own numbers through ``extra_metrics(params, key, batch)``.
"""

from __future__ import annotations

import functools
import math
import os
import pathlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from genjax import metrics as gm

# Evaluation draws come from their own key space, never from a training stream, so held-out
# sets are held out and an evaluation of the same params is the same on every call.
EVAL_SEED = 0x5EED_E7A1 % 2**31
SAMPLE_BASED_MAX_DIMS = 64


def _eval_key(*salt: int) -> jax.Array:
    key = jax.random.key(EVAL_SEED)
    for s in salt:
        key = jax.random.fold_in(key, s)
    return key


@functools.lru_cache(maxsize=64)
def _jitted_sampler(model, num: int, sampler: str):
    return jax.jit(functools.partial(model.sample_with_stats, num=num, sampler=sampler))


def draw_samples(model, params, key, num: int, sampler: str = "default") -> tuple[jax.Array, dict]:
    """``(x [num, *event], stats)`` from the model, compiled once per (model, num, sampler)."""
    return _jitted_sampler(model, num, sampler)(params, key)


def _log_prob_batches(model, params, x: jax.Array, batch_size: int) -> np.ndarray:
    fn = jax.jit(lambda p, xb, k: model.log_prob(p, xb, key=k))
    out = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        out.append(np.asarray(fn(params, xb, _eval_key(99, i))))
    return np.concatenate(out)


def sample_metrics(model, params, dataset, eval_cfg) -> dict[str, float]:
    """W2 / MMD of model samples to held-out data, per sampler spec, with the data's W2 floor
    (synthetic data: two independent draws; a fixed test set: the test set against as many
    training examples).

    W2 between two finite sample sets fluctuates from draw to draw (on moons mostly with how
    many points land on each moon), so it is averaged over ``eval_cfg.repeats`` independent
    draws, each model draw compared to the same held-out set as one floor pair, and reported
    with its standard error. MMD² is computed on the first draw only (it costs more than W2).
    """
    num, repeats = eval_cfg.num_samples, eval_cfg.repeats
    out: dict[str, float] = {}
    pairs: dict[str, list] = {}  # name -> [(x, y)] whose W2s are averaged
    if dataset.is_synthetic:
        refs = [np.asarray(dataset.sample(_eval_key(1, r), num)["x"]).reshape(num, -1) for r in range(repeats)]
        pairs["w2_floor"] = [
            (refs[r], np.asarray(dataset.sample(_eval_key(2, r), num)["x"]).reshape(num, -1)) for r in range(repeats)
        ]
    else:
        test = _test_batch(dataset, eval_cfg)["x"]
        num = min(num, test.shape[0])
        refs = [np.asarray(test[:num]).reshape(num, -1)] * repeats
        if dataset.in_memory:
            # The floor of a fixed held-out set: W2 between it and as many training examples
            # (another draw of the same distribution), over several draws of those.
            draw = jax.jit(lambda key: dataset.train_batch(key, 0, num)["x"])
            pairs["w2_floor"] = [(np.asarray(draw(_eval_key(2, r))).reshape(num, -1), refs[r]) for r in range(repeats)]
    nfes: dict[str, list] = {}
    for spec in eval_cfg.samplers:
        pairs[f"w2/{spec}"] = []
        for r in range(repeats):
            x, stats = draw_samples(model, params, _eval_key(3, r), num, spec)
            x = np.asarray(x).reshape(num, -1)
            pairs[f"w2/{spec}"].append((x, refs[r]))
            if eval_cfg.mmd and r == 0 and np.all(np.isfinite(x)):
                out[f"mmd2/{spec}"] = float(gm.mmd(x, refs[r]))
            if "nfe" in stats:
                nfes.setdefault(spec, []).append(float(stats["nfe"]))
    # Exact OT of 2000 x 2000 points takes ~0.5 s in scipy, which releases the GIL: use every core.
    flat = [(name, i, x, y) for name, ps in pairs.items() for i, (x, y) in enumerate(ps)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        values = list(pool.map(lambda item: _w2_or_nan(item[2], item[3]), flat))
    results: dict[str, list] = {}
    for (name, _, _, _), v in zip(flat, values):
        results.setdefault(name, []).append(v)
    if "w2_floor" in results:
        out["w2_floor"] = float(np.mean(results["w2_floor"]))
        out["w2_floor_stderr"] = _stderr(results["w2_floor"])
    for spec in eval_cfg.samplers:
        w2s = results[f"w2/{spec}"]
        out[f"w2/{spec}"] = float(np.mean(w2s))
        out[f"w2_stderr/{spec}"] = _stderr(w2s)
        if "w2_floor" in out:
            out[f"w2_ratio/{spec}"] = out[f"w2/{spec}"] / out["w2_floor"]
            out[f"w2_ratio_stderr/{spec}"] = _ratio_stderr(w2s, results["w2_floor"])
        if spec in nfes:
            out[f"nfe/{spec}"] = float(np.mean(nfes[spec]))
    return out


def _ratio_stderr(num, den) -> float:
    """Standard error of ``mean(num) / mean(den)`` for paired draws (delta method)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    n = len(num)
    if n < 2:
        return float("nan")
    mn, md = num.mean(), den.mean()
    cov = np.cov(num, den, ddof=1)
    var = (cov[0, 0] / mn**2 + cov[1, 1] / md**2 - 2 * cov[0, 1] / (mn * md)) / n
    return float(mn / md * np.sqrt(max(var, 0.0)))


def _w2_or_nan(x: np.ndarray, y: np.ndarray) -> float:
    return gm.w2(x, y) if np.all(np.isfinite(x)) else float("nan")


def _stderr(values) -> float:
    values = np.asarray(values, np.float64)
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def _test_batch(dataset, eval_cfg) -> dict:
    """The held-out set, or its first ``eval.max_test_examples`` examples (0: all)."""
    limit = eval_cfg.get("max_test_examples", 0)
    return dataset.test_batch(limit or None)


def likelihood_metrics(model, params, dataset, eval_cfg) -> dict[str, float]:
    test = _test_batch(dataset, eval_cfg)
    x = jnp.asarray(test["x"])
    lp = _log_prob_batches(model, params, x, eval_cfg.batch_size)
    nll = float(-np.mean(lp))
    out = {"nll": nll, "nll_stderr": float(np.std(lp) / math.sqrt(len(lp))), "log_prob_kind": model.log_prob_kind}
    if dataset.dequantization is not None or dataset.num_dims > 2:
        # A log-probability of discrete values the model derives (binarised pixels) needs no offset.
        dequantization = None if model.log_prob_discrete else dataset.dequantization
        out["bits_per_dim"] = float(gm.bits_per_dim(nll, dataset.num_dims, dequantization))
    return out


def evaluate(model, params, dataset, eval_cfg) -> dict[str, Any]:
    """All metrics the model and dataset support, as a flat dict of floats (and the string
    ``log_prob_kind``: "exact", "bound" or "estimate", saying what ``nll`` is)."""
    out: dict[str, Any] = {}
    if model.log_prob_kind is not None:
        out.update(likelihood_metrics(model, params, dataset, eval_cfg))
    if dataset.num_dims <= SAMPLE_BASED_MAX_DIMS:
        out.update(sample_metrics(model, params, dataset, eval_cfg))
    if eval_cfg.get("extra_metrics", True):
        batch = (dataset.test_batch(min(eval_cfg.num_samples, 2000)) if dataset.is_synthetic
                 else _test_batch(dataset, eval_cfg))
        extra = model.extra_metrics(params, _eval_key(4), batch)
        out.update({k: float(v) for k, v in extra.items()})
    return out


def plot_samples(model, params, dataset, path: pathlib.Path, *, num: int = 2000, sampler: str = "default") -> pathlib.Path:
    x, _ = draw_samples(model, params, _eval_key(5), num, sampler)
    x = np.asarray(x)
    if len(dataset.event_shape) == 1 and dataset.event_shape[0] == 2:
        ref = np.asarray(dataset.test_batch(num)["x"]) if dataset.is_synthetic else np.asarray(dataset.test_batch()["x"])
        return pathlib.Path(gm.scatter_plot(x, path, reference=ref, title=f"{dataset.name}: samples"))
    if len(dataset.event_shape) == 3:
        value_range = _image_value_range(dataset)
        return pathlib.Path(gm.image_grid(x[:64], path, value_range=value_range))
    side = int(math.isqrt(dataset.num_dims))
    if side * side == dataset.num_dims:  # square vectors such as 8x8 digits
        value_range = _image_value_range(dataset)
        return pathlib.Path(gm.image_grid(x[:64].reshape(-1, side, side, 1), path, value_range=value_range))
    return pathlib.Path(gm.scatter_plot(x[:, :2], path, title=f"{dataset.name}: first two coordinates"))


def plot_extras(model, params, dataset, directory: pathlib.Path, tag: str) -> list[pathlib.Path]:
    """The model's own plots (``Model.plot_extras``: reconstructions, ...) written into ``directory``."""
    return [pathlib.Path(p) for p in model.plot_extras(params, _eval_key(6), dataset, directory, tag)]


def _image_value_range(dataset) -> tuple[float, float]:
    dq = dataset.dequantization
    return (-1.0, 1.0) if dq is None else dq.value_range


def stack_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds, plus each seed's value as ``name[i]`` (labels such as ``log_prob_kind`` once)."""
    if len(per_seed) == 1:
        return per_seed[0]
    out: dict[str, Any] = {}
    for k in per_seed[0]:
        vals = [m[k] for m in per_seed]
        if isinstance(vals[0], str):
            out[k] = vals[0]
            continue
        out[k] = float(np.mean(vals))
        for i, v in enumerate(vals):
            out[f"{k}[{i}]"] = float(v)
    return out
