"""Datasets: 2-D toy sets, scikit-learn digits, MNIST-1D and tfds images, behind one registry.

``get_dataset(name, **options)`` returns a ``Dataset`` (see ``genjax.data.base`` for the
contract); ``list_datasets()`` and ``DATASETS`` say what exists. Any tfds image dataset is
reachable as ``"tfds:<builder name>"``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import jax
import numpy as np

from genjax.data.arrays import ArrayDataset
from genjax.data.base import Batch, Dataset, Dequantization
from genjax.data.toy import TOY_NUM_CLASSES, TOY_SAMPLERS, ToyDataset
from genjax.errors import DataError

__all__ = [
    "ArrayDataset",
    "Batch",
    "DATASETS",
    "Dataset",
    "Dequantization",
    "TOY_NUM_CLASSES",
    "TOY_SAMPLERS",
    "ToyDataset",
    "check_batch",
    "get_dataset",
    "list_datasets",
]

TFDS_PREFIX = "tfds:"

DATASETS: dict[str, str] = {
    "8gaussians": "2-D: eight Gaussians (std 0.5/1.414) on a circle of radius 4/1.414; 8 labels",
    "checkerboard": "2-D: uniform on 8 squares of a 4x4 checkerboard over [-4, 4]^2",
    "2spirals": "2-D: two interleaved noisy spirals; 2 labels",
    "pinwheel": "2-D: five curved arms; 5 labels",
    "rings": "2-D: four concentric noisy rings of radii 3, 2.25, 1.5, .75; 4 labels",
    "circles": "2-D: two noisy concentric circles of radii 3 and 1.5; 2 labels",
    "moons": "2-D: two interleaved noisy half circles; 2 labels",
    "swissroll": "2-D: noisy swiss roll (make_swiss_roll columns x, z, divided by 5)",
    "scurve": "2-D: noisy S curve (make_s_curve columns x, z, times 1.5)",
    "digits": "scikit-learn 8x8 digits: 64-d (or 8x8x1 with image=True), values 0..16 dequantized; 1497/300; 10 labels",
    "mnist1d": "MNIST-1D: 40-d standardized signals, 4000/1000; 10 labels",
    "mnist": "tfds MNIST: 28x28x1, 60000/10000; 10 labels",
    "fashion_mnist": "tfds Fashion-MNIST: 28x28x1, 60000/10000; 10 labels",
    "cifar10": "tfds CIFAR-10: 32x32x3, 50000/10000; 10 labels",
    "celeb_a": "tfds CelebA: center crop 140, resized to 64x64x3; 162770/19962; no labels",
}


def _factory(name: str) -> Callable[..., Dataset]:
    """The constructor of ``name``, taking the dataset's options as keywords."""
    if name in TOY_SAMPLERS:
        return lambda: ToyDataset(name)
    if name == "digits":
        from genjax.data.digits import digits_dataset

        return digits_dataset
    if name == "mnist1d":
        from genjax.data.mnist1d import mnist1d_dataset

        return mnist1d_dataset
    # The remaining registered names are tfds image datasets.
    if name in DATASETS or name.startswith(TFDS_PREFIX):
        # Imported here: tfds and grain add about a second to `import genjax.data`.
        from genjax.data.images import IMAGE_DATASETS, ImageDataset

        tfds_name = name.removeprefix(TFDS_PREFIX)
        if not tfds_name:
            raise DataError(f"{name!r} names no tfds dataset; write e.g. 'tfds:mnist'")
        defaults = IMAGE_DATASETS.get(name, {})

        def image_dataset(
            *,
            data_dir: str | None = None,
            download: bool = False,
            scale: str = "symmetric",
            crop: int | None = defaults.get("crop"),
            size: int | None = defaults.get("size"),
            train_split: str = "train",
            test_split: str = "test",
        ) -> Dataset:
            return ImageDataset(
                tfds_name,
                name=name,
                data_dir=data_dir,
                download=download,
                scale=scale,
                crop=crop,
                size=size,
                train_split=train_split,
                test_split=test_split,
            )

        return image_dataset
    raise DataError(
        f"unknown dataset {name!r}; known: {', '.join(list_datasets())}, "
        f"or '{TFDS_PREFIX}<name>' for any tfds image dataset"
    )


_CACHE: dict[tuple, Dataset] = {}


def get_dataset(name: str, **options) -> Dataset:
    """The dataset registered as ``name``, built once per ``(name, options)`` in a process.

    Args:
      name: one of ``list_datasets()``, or ``"tfds:<builder>"`` for any tfds image dataset.
      **options: dataset options; the toy sets and ``mnist1d`` take none, ``digits`` takes
        ``image`` (``True``: ``[8, 8, 1]`` images instead of 64-vectors), tfds
        images take ``data_dir, download, scale, crop, size, train_split, test_split``
        (see ``genjax.data.images.ImageDataset``).

    Raises:
      DataError: unknown name or option, or a tfds dataset that is not prepared.
    """
    factory = _factory(name)
    try:
        inspect.signature(factory).bind(**options)
    except TypeError:
        accepted = list(inspect.signature(factory).parameters)
        raise DataError(
            f"dataset {name!r} takes options {accepted or 'none'}, got {sorted(options)}"
        ) from None
    cache_key = (name, tuple(sorted(options.items())))
    try:
        hash(cache_key)
    except TypeError:  # unhashable option values: build without caching
        return factory(**options)
    if cache_key not in _CACHE:
        _CACHE[cache_key] = factory(**options)
    return _CACHE[cache_key]


def list_datasets() -> list[str]:
    """Names accepted by ``get_dataset`` (besides ``"tfds:<builder>"``)."""
    return list(DATASETS)


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_batch(batch: Batch, dataset: Dataset) -> None:
    """Raise a ``DataError`` unless ``batch`` fits ``dataset``.

    Checks that ``batch["x"]`` is ``[B, *dataset.event_shape]`` with finite values (skipped for
    traced arrays) and, when present, that ``batch["label"]`` is an integer ``[B]`` array in
    ``[0, num_classes)``.

    Args:
      batch: ``{"x": [B, *event], "label": [B] (optional)}``.
      dataset: the dataset the batch should come from.
    """
    if not isinstance(batch, Mapping) or "x" not in batch:
        raise DataError(f"a batch is a dict with key 'x', got {type(batch).__name__}")
    x = batch["x"]
    shape = tuple(np.shape(x))
    expected = ("B", *dataset.event_shape)
    if len(shape) != len(expected) or shape[1:] != tuple(dataset.event_shape):
        raise DataError(
            f"data 'x' has shape {_shape_str(shape)}; dataset {dataset.name!r} expects "
            f"{_shape_str(expected)}"
        )
    if not isinstance(x, jax.core.Tracer):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(np.asarray(x))))
        if bad:
            raise DataError(
                f"data 'x' of dataset {dataset.name!r} has {bad} non-finite values (NaN or inf)"
            )
    if "label" not in batch:
        return
    label = batch["label"]
    if dataset.num_classes is None:
        raise DataError(f"dataset {dataset.name!r} has no labels, but the batch has 'label'")
    dtype = label.dtype if hasattr(label, "dtype") else np.asarray(label).dtype
    if tuple(np.shape(label)) != shape[:1] or not np.issubdtype(dtype, np.integer):
        raise DataError(
            f"data 'label' has shape {_shape_str(np.shape(label))} and dtype "
            f"{dtype}; dataset {dataset.name!r} expects integers of shape "
            f"{_shape_str(shape[:1])}"
        )
    if not isinstance(label, jax.core.Tracer):
        values = np.asarray(label)
        if values.size and (values.min() < 0 or values.max() >= dataset.num_classes):
            raise DataError(
                f"data 'label' has values in [{values.min()}, {values.max()}]; dataset "
                f"{dataset.name!r} has {dataset.num_classes} classes"
            )
