"""Image datasets from TensorFlow Datasets, read as ArrayRecord with grain (no TensorFlow).

Any tfds dataset with an ``image`` feature of fixed shape works; ``IMAGE_DATASETS`` lists the
ones known by bare name and their default options. Records come from
``builder.as_data_source(split)`` (random access to ArrayRecord files; ``tfds.load`` needs
TensorFlow and is not used).

Training stream: ``grain.MapDataset.source(src).shuffle(seed).repeat().map(decode).batch(B)``,
read by random access (``ds[step]``), so batch ``step`` is a function of ``(key, step)`` alone
and no iterator state needs checkpointing. Grain reshuffles every epoch (seed ``seed + epoch``)
and a batch may straddle two epochs. The shuffle seed is 32 random bits drawn from
``fold_in(key, 0)``; the dequantization noise of batch ``step`` comes from
``fold_in(fold_in(key, 1), step)``. The pipeline runs on the host: ``train_batch`` needs a
concrete key and step (``in_memory = False``). In a multi-process run each process reads only
its block of every global batch (``train_shard``: grain's per-process sharding of the record
stream, ``ds[shard_index::shard_count]``), and the blocks of all processes are, bitwise, the
batch one process would read.

Values: uint8 pixels ``v`` become ``x = scale * (v + u) + shift``, ``u ~ U[0, 1)``:
``scale="symmetric"`` (default) gives ``x`` in ``[-1, 1)`` (``scale = 2/256, shift = -1``),
``scale="unit"`` gives ``[0, 1)`` (``scale = 1/256``). Optional ``crop`` takes the central
``crop x crop`` square and ``size`` resizes to ``size x size`` (bilinear with antialiasing,
rounded back to integers so the dequantization bound stays valid); ``celeb_a`` defaults to
``crop=140, size=64`` (218x178 faces to 64x64).

Nothing is downloaded unless ``download=True``: a dataset that is not prepared under
``data_dir`` raises a ``DataError`` naming the command that prepares it.
"""

from __future__ import annotations

import functools

import grain
import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from genjax.data.arrays import dequantize, dequantize_block, dequantize_examples, held_out_key
from genjax.data.base import Batch, Dataset, Dequantization, shard_rows
from genjax.errors import DataError

# Registry name -> default options of ImageDataset.
IMAGE_DATASETS: dict[str, dict] = {
    "mnist": {},
    "fashion_mnist": {},
    "cifar10": {},
    "celeb_a": {"crop": 140, "size": 64},
}

SCALES: dict[str, tuple[float, float]] = {  # name -> (scale, shift)
    "unit": (1.0 / 256, 0.0),
    "symmetric": (2.0 / 256, -1.0),
}

_TEST_CHUNK = 1000  # test examples decoded and resized at a time, to bound memory
_MAX_PIPELINES = 8


def _open_builder(tfds_name: str, data_dir: str | None):
    try:
        return tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError as e:
        raise DataError(
            f"tensorflow-datasets has no dataset {tfds_name!r} (see tfds.list_builders())"
        ) from e


def _not_prepared(tfds_name: str, registry_name: str, builder, data_dir: str | None) -> DataError:
    where = f"data_dir={str(data_dir)!r}, " if data_dir is not None else ""
    return DataError(
        f"tfds dataset {tfds_name!r} is not prepared (looked in {builder.data_dir}). Prepare it "
        "once (this downloads it): python -c \"import tensorflow_datasets as tfds; "
        f"tfds.builder('{tfds_name}', {where}file_format='array_record').download_and_prepare()\""
        f", or pass download=True (get_dataset('{registry_name}', download=True), or "
        "--config.data.options.download=True)"
    )


def _open_sources(builder, splits, *, download: bool, tfds_name, registry_name, data_dir):
    """Data sources of ``splits``, or a ``DataError`` saying how to prepare the dataset."""
    if download and not builder.is_prepared():
        builder.download_and_prepare(file_format="array_record")
    try:
        sources = {split: builder.as_data_source(split=split) for split in splits}
        for source in sources.values():
            len(source)
    except (NotImplementedError, ValueError, OSError, KeyError) as e:
        # Reading is attempted even when `is_prepared()` is False because
        # `tfds.testing.mock_data` patches `as_data_source` but not `is_prepared`.
        if not builder.is_prepared():
            raise _not_prepared(tfds_name, registry_name, builder, data_dir) from e
        hint = (
            " Random access needs file_format='array_record': prepare it again in another data_dir."
            if isinstance(e, NotImplementedError)
            else ""
        )
        raise DataError(
            f"cannot read tfds dataset {tfds_name!r} from {builder.data_dir}: {e}.{hint}"
        ) from e
    return sources


@functools.partial(jax.jit, static_argnames=("size",))
def _resize_values(images: jax.Array, size: int) -> jax.Array:
    """``[B, H, W, C]`` uint8 -> int32 ``[B, size, size, C]``, rounded to valid pixel values."""
    shape = (images.shape[0], size, size, images.shape[-1])
    resized = jax.image.resize(images.astype(jnp.float32), shape, "linear", antialias=True)
    return jnp.clip(jnp.round(resized), 0, 255).astype(jnp.int32)


_dequantize = jax.jit(dequantize, static_argnums=2)
_dequantize_block = jax.jit(dequantize_block, static_argnums=(2, 3))
_dequantize_examples = jax.jit(dequantize_examples, static_argnums=3)


class ImageDataset(Dataset):
    """A tfds image dataset streamed from disk. Batches are ``{"x": float32 [B, H, W, C]}``
    plus ``"label": int32 [B]`` when the dataset has a ``label`` class feature.

    Attributes (besides those of ``Dataset``):
      tfds_name: the tfds builder name.
      num_train: number of training examples.
      num_test: number of test examples.
    """

    in_memory = False

    def __init__(
        self,
        tfds_name: str,
        *,
        name: str | None = None,
        data_dir: str | None = None,
        download: bool = False,
        scale: str = "symmetric",
        crop: int | None = None,
        size: int | None = None,
        train_split: str = "train",
        test_split: str = "test",
    ):
        """Opens the dataset; fails at once with a ``DataError`` when it is not prepared.

        Args:
          tfds_name: tfds builder name, e.g. ``"mnist"`` or ``"celeb_a"``.
          name: registry name (defaults to ``tfds_name``); also keys the held-out noise.
          data_dir: tfds data directory (default: ``TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
          download: download and prepare the dataset when it is missing.
          scale: ``"symmetric"`` for ``x`` in ``[-1, 1)`` or ``"unit"`` for ``[0, 1)``.
          crop: side of the central square kept, or ``None``.
          size: side the (cropped) images are resized to, or ``None``.
          train_split: tfds split streamed by ``train_batch``.
          test_split: tfds split read by ``test_batch``.
        """
        if scale not in SCALES:
            raise DataError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
        self.name = name or tfds_name
        self.tfds_name = tfds_name
        builder = _open_builder(tfds_name, data_dir)
        features = builder.info.features
        if "image" not in features.keys():
            raise DataError(f"tfds dataset {tfds_name!r} has no 'image' feature")
        height, width, channels = features["image"].shape
        if height is None or width is None:
            raise DataError(f"tfds dataset {tfds_name!r} has images of varying shape: not supported")
        if crop is not None and not 0 < crop <= min(height, width):
            raise DataError(f"crop {crop} does not fit images of shape {(height, width)}")
        self._crop = crop
        self._size = size
        side = (size, size) if size else (crop, crop) if crop else (height, width)
        self.event_shape = (*side, channels)
        label = features["label"] if "label" in features.keys() else None
        self.num_classes = label.num_classes if isinstance(label, tfds.features.ClassLabel) else None
        step, shift = SCALES[scale]
        self.dequantization = Dequantization(levels=256, scale=step, shift=shift)
        sources = _open_sources(
            builder,
            (train_split, test_split),
            download=download,
            tfds_name=tfds_name,
            registry_name=self.name,
            data_dir=data_dir,
        )
        self._train_source = sources[train_split]
        self._test_source = sources[test_split]
        self._pipelines: dict[tuple, grain.MapDataset] = {}

    @property
    def num_train(self) -> int:
        return len(self._train_source)

    @property
    def num_test(self) -> int:
        return len(self._test_source)

    def _decode(self, example) -> dict[str, np.ndarray]:
        image = np.asarray(example["image"])
        if self._crop is not None:
            top = (image.shape[0] - self._crop) // 2
            left = (image.shape[1] - self._crop) // 2
            image = image[top : top + self._crop, left : left + self._crop]
        out = {"image": image}
        if self.num_classes is not None:
            out["label"] = np.int32(example["label"])
        return out

    def _values(self, images: np.ndarray) -> jax.Array:
        """Decoded uint8 ``[B, h, w, C]`` -> int32 ``[B, *event_shape]``."""
        if self._size is not None:
            return _resize_values(images, size=self._size)
        return jnp.asarray(images, jnp.int32)

    def _train_pipeline(self, seed: int, batch_size: int, shard: grain.sharding.ShardOptions) -> grain.MapDataset:
        """Element ``t`` is this shard's block of global batch ``t``.

        The global stream of records is shuffled and repeated, then cut into blocks of
        ``L = batch_size / shard_count`` records; global batch ``t`` is blocks
        ``t * shard_count .. t * shard_count + shard_count - 1``, and grain's per-process sharding
        (``ds[shard_index::shard_count]``) keeps block ``shard_index`` of each. The dataset is
        lazy: only this shard's records are read and decoded.
        """
        cache_key = (seed, batch_size, shard.shard_index, shard.shard_count)
        if cache_key not in self._pipelines:
            if len(self._pipelines) >= _MAX_PIPELINES:
                self._pipelines.clear()
            ds = (
                grain.MapDataset.source(self._train_source)
                .shuffle(seed=seed)
                .repeat()
                .map(self._decode)
                .batch(batch_size // shard.shard_count)
            )
            if shard.shard_count > 1:
                ds = ds[shard.shard_index :: shard.shard_count]
            self._pipelines[cache_key] = ds
        return self._pipelines[cache_key]

    def train_batch(self, key: jax.Array, step, batch_size: int) -> Batch:
        """Batch ``step`` of the stream of ``key``: ``{"x": float32 [B, *event], "label": int32 [B]}``.

        Host-side: ``key`` and ``step`` must be concrete (not traced by ``jit``/``vmap``).
        """
        return self.train_shard(key, step, batch_size, 0, 1)

    def train_shard(self, key: jax.Array, step, batch_size: int, shard: int, num_shards: int) -> Batch:
        """Rows ``[shard * L, (shard + 1) * L)`` of ``train_batch`` (``L = batch_size / num_shards``),
        reading and decoding only those records (grain's per-process sharding of the stream)."""
        if isinstance(key, jax.core.Tracer) or isinstance(step, jax.core.Tracer):
            raise DataError(
                f"dataset {self.name!r} is read from disk (in_memory=False): call train_batch "
                "outside jit/vmap and pass the batch in"
            )
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"batch_size must be a positive int, got {batch_size!r}")
        step, batch_size = int(step), int(batch_size)
        start, _ = shard_rows(batch_size, shard, num_shards)
        seed = int(jax.random.bits(jax.random.fold_in(key, 0), (), jnp.uint32))
        options = grain.sharding.ShardOptions(shard_index=shard, shard_count=num_shards)
        raw = self._train_pipeline(seed, batch_size, options)[step]
        noise_key = jax.random.fold_in(jax.random.fold_in(key, 1), step)
        values = self._values(raw["image"])
        if num_shards == 1:
            x = _dequantize(noise_key, values, self.dequantization)
        else:
            x = _dequantize_block(noise_key, values, self.dequantization, batch_size, start)
        batch = {"x": x}
        if self.num_classes is not None:
            batch["label"] = jnp.asarray(raw["label"], jnp.int32)
        return batch

    def _test_examples(self, num: int | None, dequantized: bool) -> Batch:
        if num is None:
            num = self.num_test
        if not 1 <= num <= self.num_test:
            raise DataError(f"dataset {self.name!r} has {self.num_test} test examples, asked for {num}")
        key = held_out_key(self.name)
        ds = grain.MapDataset.source(self._test_source)[:num].map(self._decode).batch(_TEST_CHUNK)
        parts = []
        for i in range(len(ds)):
            raw = ds[i]
            x = self._values(raw["image"])
            if dequantized:
                indices = jnp.arange(i * _TEST_CHUNK, i * _TEST_CHUNK + x.shape[0])
                x = _dequantize_examples(key, x, indices, self.dequantization)
            part = {"x": x}
            if self.num_classes is not None:
                part["label"] = jnp.asarray(raw["label"], jnp.int32)
            parts.append(part)
        return {k: jnp.concatenate([p[k] for p in parts]) for k in parts[0]}

    def test_values(self, num: int | None = None) -> Batch:
        """The first ``num`` test examples (all by default) as integer pixels.

        Returns:
          ``{"x": int32 [num, *event] in [0, 256), "label": int32 [num]}`` (after crop/resize),
          to average a bound over fresh dequantization noise.
        """
        return self._test_examples(num, dequantized=False)

    def test_batch(self, num: int | None = None) -> Batch:
        """The first ``num`` test examples (all by default), dequantized with a fixed key.

        Returns:
          ``{"x": float32 [num, *event], "label": int32 [num]}``; deterministic, and the first
          ``k`` examples do not depend on ``num``.
        """
        return self._test_examples(num, dequantized=True)
