"""PNG plots of samples, image grids, sample paths and 2-D densities.

Figures are drawn on matplotlib's Agg canvas directly, without ``pyplot``: nothing opens a
window, the global backend a notebook chose is left alone, and no figure stays registered
after the function returns (a figure is freed with its last reference).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

Limits = float | tuple[tuple[float, float], tuple[float, float]]


def _limits(lim: Limits) -> tuple[tuple[float, float], tuple[float, float]]:
    """``L -> ((-L, L), (-L, L))``; a pair of ``(low, high)`` ranges is returned as it is."""
    if np.ndim(lim) == 0:
        return (-float(lim), float(lim)), (-float(lim), float(lim))
    (x_low, x_high), (y_low, y_high) = lim
    return (float(x_low), float(x_high)), (float(y_low), float(y_high))


def _figure(title: str | None, lim: Limits | None = None, size: tuple[float, float] = (5, 5)):
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    if title is not None:
        ax.set_title(title)
    if lim is not None:
        x_range, y_range = _limits(lim)
        ax.set_xlim(*x_range)
        ax.set_ylim(*y_range)
    return fig, ax


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight")
    return path


def _points(a, name: str, ndim: int = 2) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != ndim or a.shape[-1] != 2:
        expected = "[num, 2]" if ndim == 2 else "[steps, num, 2]"
        raise ValueError(f"{name} must be 2-D points {expected}, got shape {a.shape}")
    return a


def scatter_plot(samples, path, *, reference=None, title: str | None = None,
                 lim: Limits | None = None) -> Path:
    """Scatter plot of 2-D samples, optionally over reference samples (e.g. the data) in grey.

    Args:
      samples: ``[num, 2]``.
      path: where to write the PNG (parent folders are created).
      reference: ``[num_ref, 2]`` drawn behind ``samples``, or ``None``.
      title: figure title.
      lim: axis limits: ``L`` for ``[-L, L]^2`` or ``((x_low, x_high), (y_low, y_high))``;
        ``None`` fits the points.

    Returns:
      The path written.
    """
    samples = _points(samples, "samples")
    fig, ax = _figure(title, lim)
    if reference is not None:
        reference = _points(reference, "reference")
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.7", alpha=0.5, label="reference",
                   linewidths=0)
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="C0", alpha=0.7, label="samples",
               linewidths=0)
    if reference is not None:
        ax.legend(loc="upper right", markerscale=4)
    ax.set_aspect("equal", adjustable="box")
    return _save(fig, path)


def image_grid(images, path, *, ncols: int | None = None,
               value_range: tuple[float, float] = (0.0, 1.0), title: str | None = None) -> Path:
    """A grid of images in one PNG.

    Args:
      images: ``[num, height, width, channels]`` with 1 or 3 channels, or
        ``[num, height, width]`` for greyscale; values in ``value_range`` (others are clipped).
      path: where to write the PNG (parent folders are created).
      ncols: images per row; ``None`` for a near-square grid.
      value_range: ``(low, high)`` mapped to black and white, e.g. ``(0, 1)`` or ``(-1, 1)``.
      title: figure title.

    Returns:
      The path written.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"images must be [num, height, width, 1 or 3] (or [num, height, width])"
                         f", got shape {images.shape}")
    low, high = value_range
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range}")
    images = np.clip((images - low) / (high - low), 0.0, 1.0)
    num, height, width, channels = images.shape
    ncols = ncols or math.ceil(math.sqrt(num))
    nrows = math.ceil(num / ncols)
    pad = 1  # a white line between images keeps neighbouring digits apart
    grid = np.ones((nrows * (height + pad) + pad, ncols * (width + pad) + pad, channels))
    for index, image in enumerate(images):
        row, col = divmod(index, ncols)
        top, left = pad + row * (height + pad), pad + col * (width + pad)
        grid[top:top + height, left:left + width] = image
    # Two screen pixels per image pixel at 100 dpi keeps small images (8x8 digits) legible.
    fig, ax = _figure(title, size=(max(2.0, grid.shape[1] / 50), max(2.0, grid.shape[0] / 50)))
    ax.imshow(grid[..., 0] if channels == 1 else grid, cmap="gray", vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_axis_off()
    return _save(fig, path)


def trajectory_plot(trajectories, path, *, reference=None, title: str | None = None,
                    lim: Limits | None = None) -> Path:
    """Sample paths over time (e.g. an ODE flow from noise to data) in the plane.

    Paths are thin lines; their start points are grey and their end points coloured.

    Args:
      trajectories: ``[steps, num, 2]``: the states of ``num`` paths at ``steps`` times.
      path: where to write the PNG (parent folders are created).
      reference: ``[num_ref, 2]`` drawn behind the paths (e.g. the data), or ``None``.
      title: figure title.
      lim: axis limits, as for ``scatter_plot``.

    Returns:
      The path written.
    """
    trajectories = _points(trajectories, "trajectories", ndim=3)
    fig, ax = _figure(title, lim)
    if reference is not None:
        reference = _points(reference, "reference")
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.85", linewidths=0)
    # One LineCollection draws thousands of paths far faster than one plot call per path.
    ax.add_collection(LineCollection(np.swapaxes(trajectories, 0, 1), colors="C0",
                                     linewidths=0.5, alpha=0.3))
    ax.scatter(trajectories[0, :, 0], trajectories[0, :, 1], s=3, c="0.4", label="start",
               linewidths=0)
    ax.scatter(trajectories[-1, :, 0], trajectories[-1, :, 1], s=3, c="C3", label="end",
               linewidths=0)
    if lim is None:
        ax.autoscale_view()
    ax.legend(loc="upper right", markerscale=4)
    ax.set_aspect("equal", adjustable="box")
    return _save(fig, path)


def density_plot(log_prob: Callable | np.ndarray, path, *, lim: Limits, resolution: int = 200,
                 title: str | None = None) -> Path:
    """A 2-D density on a regular grid, as an image.

    The grid has ``resolution`` points per axis from low to high limit inclusive
    (``np.linspace``); value ``[i, j]`` belongs to the point ``(xs[j], ys[i])``, i.e. rows run
    along y.

    Args:
      log_prob: a function ``[k, 2] -> [k]`` of log-densities (called once with all grid
        points, e.g. a jitted model ``log_prob``), or the log-densities on the grid already,
        ``[rows, cols]`` (then ``resolution`` is ignored).
      path: where to write the PNG (parent folders are created).
      lim: the grid's extent: ``L`` for ``[-L, L]^2`` or ``((x_low, x_high), (y_low, y_high))``.
      resolution: grid points per axis when ``log_prob`` is a function.
      title: figure title.

    Returns:
      The path written.
    """
    (x_low, x_high), (y_low, y_high) = _limits(lim)
    if callable(log_prob):
        xs, ys = np.linspace(x_low, x_high, resolution), np.linspace(y_low, y_high, resolution)
        points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        values = np.asarray(log_prob(points.astype(np.float32))).reshape(resolution, resolution)
    else:
        values = np.asarray(log_prob)
        if values.ndim != 2:
            raise ValueError(f"grid log-densities must be [rows, cols], got shape {values.shape}")
    fig, ax = _figure(title)
    image = ax.imshow(np.exp(values.astype(np.float64)), origin="lower", cmap="viridis",
                      extent=(x_low, x_high, y_low, y_high), aspect="equal",
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="density", shrink=0.8)
    return _save(fig, path)
