"""MNIST-1D (Greydanus, 2020): 1-D signals of 40 values, 10 classes, generated offline.

The arrays come from ``mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())`` (pure
numpy, seed 42: 4000 train / 1000 test). The package's ``get_dataset(..., download=True)``
fetches a pickle from the network first, so it is not used. Values are continuous: they are
standardized with one scalar mean and standard deviation of the training signals
(``x = (raw - mean) / std``, recorded in ``dataset.standardization``); a scalar rather than a
per-position pair keeps the shape of each signal. No dequantization.
"""

from __future__ import annotations

import functools
import random

import numpy as np

from genjax.data.arrays import ArrayDataset


@functools.lru_cache(maxsize=1)
def _generate() -> dict[str, np.ndarray]:
    # Generation takes about two seconds, hence the per-process cache.
    import mnist1d.data

    # make_dataset reseeds the global `random` and numpy generators; restore them so that
    # loading data does not change the caller's random streams.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def mnist1d_dataset() -> ArrayDataset:
    """The MNIST-1D set: event shape ``(40,)``, 10 classes, 4000 train / 1000 test examples."""
    data = _generate()
    mean, std = float(data["x"].mean()), float(data["x"].std())
    return ArrayDataset(
        "mnist1d",
        train_x=(data["x"] - mean) / std,
        test_x=(data["x_test"] - mean) / std,
        train_labels=data["y"],
        test_labels=data["y_test"],
        num_classes=10,
        standardization=(mean, std),
    )
