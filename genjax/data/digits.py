"""scikit-learn's 8x8 handwritten digits (shipped with scikit-learn; nothing to download).

1797 images of 64 pixels with integer values 0..16 and labels 0..9. The split is fixed: the
examples are ordered by ``numpy.random.default_rng(0).permutation(1797)``, the first 1497 train
and the last 300 test. Values are dequantized uniformly, ``x = (v + u) / 17`` with
``u ~ U[0, 1)^64``, so ``x`` lies in ``[0, 1)`` and ``Dequantization(levels=17, scale=1/17)``
turns a continuous NLL into a bound on the discrete one.
"""

from __future__ import annotations

import numpy as np

from genjax.data.arrays import ArrayDataset
from genjax.data.base import Dequantization

NUM_TEST = 300
SPLIT_SEED = 0


def digits_dataset(*, image: bool = False) -> ArrayDataset:
    """The digits set: event shape ``(64,)`` (``(8, 8, 1)`` images with ``image=True``, for
    convolutional networks), 10 classes, 1497 train / 300 test examples."""
    # Imported here: scikit-learn takes most of a second to import.
    from sklearn.datasets import load_digits

    data = load_digits()
    values = np.asarray(data.data, np.int32)
    labels = np.asarray(data.target, np.int32)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(values))
    train, test = order[:-NUM_TEST], order[-NUM_TEST:]
    if image:
        values = values.reshape(-1, 8, 8, 1)
    return ArrayDataset(
        "digits",
        train_x=values[train],
        test_x=values[test],
        train_labels=labels[train],
        test_labels=labels[test],
        num_classes=10,
        dequantization=Dequantization(levels=17, scale=1.0 / 17),
    )
