"""Pictures of a trained VAE: reconstructions of held-out examples and samples at temperatures.

Written into ``<workdir>/plots`` next to the trainer's sample plot (``Model.plot_extras``):

- ``reconstructions_<tag>.png``: images (``[H, W, C]`` events or square vectors such as 8x8
  digits) as rows of held-out examples, each followed by its reconstruction (the decoder's mean
  at the posterior location); 2-D data as reconstructions over the examples; other vectors as
  curves of a few examples and their reconstructions.
- ``samples_mean_t<T>_<tag>.png``: the decoder's mean of prior draws at temperatures 1 and 0.7
  (images only).
"""

from __future__ import annotations

import math
import pathlib

import jax
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genjax import metrics as gm

NUM_EXAMPLES = 32
ROW = 8
TEMPERATURES = (1.0, 0.7)


def _image_shape(event_shape) -> tuple[int, ...] | None:
    if len(event_shape) == 3:
        return tuple(event_shape)
    if len(event_shape) == 1:
        side = math.isqrt(event_shape[0])
        if side * side == event_shape[0] and side > 2:
            return (side, side, 1)
    return None


def _value_range(dataset) -> tuple[float, float]:
    dq = dataset.dequantization
    return (-1.0, 1.0) if dq is None else dq.value_range


def _interleave(data: np.ndarray, recon: np.ndarray, row: int) -> np.ndarray:
    """Rows of ``row`` examples, each row followed by the same examples' reconstructions."""
    n = (data.shape[0] // row) * row
    parts = []
    for i in range(0, n, row):
        parts += [data[i : i + row], recon[i : i + row]]
    return np.concatenate(parts)


def signal_plot(data: np.ndarray, recon: np.ndarray, path, *, title: str | None = None) -> pathlib.Path:
    """Curves of a few vector examples (solid) and their reconstructions (dashed), one panel each."""
    n = min(8, data.shape[0])
    fig = Figure(figsize=(10, 5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 4).ravel()
    for i, ax in enumerate(axes[:n]):
        ax.plot(data[i], "C0-", lw=1, label="data")
        ax.plot(recon[i], "C3--", lw=1, label="reconstruction")
        ax.set_xticks([])
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight")
    return path


def write_plots(model, params, key: jax.Array, dataset, directory, tag: str) -> list[pathlib.Path]:
    """Writes the reconstruction and temperature-sample plots of ``model``; returns their paths."""
    directory = pathlib.Path(directory)
    test = dataset.test_batch(NUM_EXAMPLES) if dataset.is_synthetic else dataset.test_batch()
    x = test["x"][:NUM_EXAMPLES]
    recon = np.asarray(jax.jit(model.reconstruct)(params, x))
    x = np.asarray(x)
    written = []
    shape = _image_shape(dataset.event_shape)
    if shape is not None:
        value_range = _value_range(dataset)
        grid = _interleave(x, recon, ROW).reshape(-1, *shape)
        written.append(gm.image_grid(grid, directory / f"reconstructions_{tag}.png", ncols=ROW,
                                     value_range=value_range, title="held-out examples / reconstructions"))
        for t in TEMPERATURES:
            fn = jax.jit(lambda p, k, t=t: model.sample(p, k, 64, sampler=f"mean:temperature={t}"))
            samples = np.asarray(fn(params, jax.random.fold_in(key, int(100 * t)))).reshape(-1, *shape)
            written.append(gm.image_grid(samples, directory / f"samples_mean_t{t:g}_{tag}.png",
                                         value_range=value_range, title=f"E[x | z], z ~ prior at T = {t:g}"))
    elif dataset.event_shape == (2,):
        reference = np.asarray(dataset.test_batch(2000)["x"] if dataset.is_synthetic else dataset.test_batch()["x"])
        many = np.asarray(jax.jit(model.reconstruct)(params, reference))
        written.append(gm.scatter_plot(many, directory / f"reconstructions_{tag}.png", reference=reference,
                                       title="reconstructions (E[x | z] at the posterior mean) over the data"))
    else:
        written.append(signal_plot(x.reshape(x.shape[0], -1), recon.reshape(recon.shape[0], -1),
                                   directory / f"reconstructions_{tag}.png", title="held-out examples and reconstructions"))
    return written
