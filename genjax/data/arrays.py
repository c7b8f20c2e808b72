"""Finite datasets held in memory, streamed as epochs of random permutations in pure JAX.

The infinite training stream of a finite set of ``n`` examples is a sequence of epochs; epoch
``e`` visits every example once, in the order ``jax.random.permutation(fold_in(k_perm, e), n)``.
Batch ``step`` of size ``B`` holds the stream positions ``step * B + j`` for ``j < B``, so a batch
may straddle two epochs (never more, because ``B <= n``). Everything is a pure function of
``(key, step)``: ``train_batch`` runs under ``jax.jit`` and ``jax.vmap`` with a traced key and step,
and a resumed run sees exactly the batches an uninterrupted run would.

Keys: the permutation keys come from ``fold_in(key, 0)`` and the dequantization noise of batch
``step`` from ``fold_in(fold_in(key, 1), step)``, so the two never coincide.
"""

from __future__ import annotations

import functools
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from genjax.data.base import Batch, Dataset, Dequantization, shard_rows
from genjax.errors import DataError

# Held-out sets are drawn from this root key folded with a per-dataset constant. Training streams
# fold the user's key with the step, so they do not reach these keys unless a user passes this
# exact root key; reserving the largest int31 seed makes that unlikely.
_HELD_OUT_ROOT_SEED = 2**31 - 1


def held_out_key(name: str) -> jax.Array:
    """The fixed key of dataset ``name``'s held-out data (test batches, test dequantization)."""
    return jax.random.fold_in(
        jax.random.key(_HELD_OUT_ROOT_SEED), zlib.crc32(name.encode()) & 0x7FFFFFFF
    )


def stream_indices(key: jax.Array, step, batch_size: int, num_examples: int) -> jax.Array:
    """Example indices of batch ``step`` of the epoch-permutation stream.

    Args:
      key: stream key; epoch ``e`` is ordered by ``jax.random.permutation(fold_in(key, e), n)``.
      step: int scalar, may be traced.
      batch_size: static ``B``, with ``1 <= B <= num_examples``.
      num_examples: static ``n``.

    Returns:
      int32 ``[B]``: indices in ``[0, n)``.
    """
    n, b = num_examples, batch_size
    step = jnp.asarray(step, jnp.int32)
    # Split the stream position step * B + j into (epoch, offset) without forming step * B,
    # which overflows int32 after 2**31 examples: with step = q * n + r,
    # step * B = (q * B + (r * B) // n) * n + (r * B) % n, and r * B < n * B stays small.
    q, r = jnp.divmod(step, n)
    first_epoch = q * b + (r * b) // n
    position = (r * b) % n + jnp.arange(b, dtype=jnp.int32)  # in [0, 2n)

    def permutation(epoch):
        return jax.random.permutation(jax.random.fold_in(key, epoch), n).astype(jnp.int32)

    first = permutation(first_epoch)
    # Only a batch that straddles two epochs needs the second permutation (a sort of n keys, the
    # main cost here); `step` is shared by all seeds under vmap, so this stays a real branch.
    second = jax.lax.cond(position[-1] >= n, lambda: permutation(first_epoch + 1), lambda: first)
    return jnp.where(position < n, first[position % n], second[position % n])


def dequantize(key: jax.Array, values: jax.Array, dequantization: Dequantization) -> jax.Array:
    """Uniform dequantization ``scale * (v + u) + shift`` with ``u ~ U[0, 1)`` i.i.d.

    Args:
      key: noise key.
      values: integer values ``[...]`` in ``[0, levels)``.
      dequantization: the map to continuous values.

    Returns:
      float32 ``[...]``.
    """
    u = jax.random.uniform(key, values.shape, jnp.float32)
    return dequantization.scale * (values.astype(jnp.float32) + u) + dequantization.shift


def dequantize_block(key: jax.Array, values: jax.Array, dequantization: Dequantization, batch_size: int,
                     start: int) -> jax.Array:
    """Rows ``[start, start + len(values))`` of ``dequantize(key, batch, dequantization)`` for a batch of
    ``batch_size`` rows, given only those rows' ``values``: the noise of the whole batch is drawn
    (cheap) and cut, so a block is bitwise the same rows of the whole batch.

    Args:
      values: integer values ``[rows, *event]``, rows ``start..`` of the batch.
    """
    u = jax.random.uniform(key, (batch_size, *values.shape[1:]), jnp.float32)
    u = jax.lax.dynamic_slice_in_dim(u, start, values.shape[0])
    return dequantization.scale * (values.astype(jnp.float32) + u) + dequantization.shift


def dequantize_examples(
    key: jax.Array, values: jax.Array, indices: jax.Array, dequantization: Dequantization
) -> jax.Array:
    """Dequantize with noise tied to each example's index, for fixed held-out sets.

    Tying the noise of example ``i`` to ``fold_in(key, i)`` makes the first ``num`` examples of a
    held-out set the same whatever ``num`` is.

    Args:
      key: held-out key.
      values: integer values ``[batch, *event]``.
      indices: int ``[batch]``: the examples' positions in their split.
      dequantization: the map to continuous values.

    Returns:
      float32 ``[batch, *event]``.
    """
    return jax.vmap(lambda i, v: dequantize(jax.random.fold_in(key, i), v, dequantization))(
        indices, values
    )


@functools.partial(jax.jit, static_argnames=("batch_size", "dequantization"))
def _gather_batch(key, step, x, labels, *, batch_size, dequantization):
    idx = stream_indices(jax.random.fold_in(key, 0), step, batch_size, x.shape[0])
    batch = {"x": x[idx]}
    if dequantization is not None:
        noise_key = jax.random.fold_in(jax.random.fold_in(key, 1), step)
        batch["x"] = dequantize(noise_key, batch["x"], dequantization)
    if labels is not None:
        batch["label"] = labels[idx]
    return batch


@functools.partial(jax.jit, static_argnames=("batch_size", "length", "dequantization"))
def _gather_rows(key, step, start, x, labels, *, batch_size, length, dequantization):
    # Rows [start, start + length) of _gather_batch: the stream's indices of the whole batch are
    # computed (a permutation of the set, cheap next to the examples), only this block's examples
    # are read.
    idx = stream_indices(jax.random.fold_in(key, 0), step, batch_size, x.shape[0])
    idx = jax.lax.dynamic_slice_in_dim(idx, start, length)
    batch = {"x": x[idx]}
    if dequantization is not None:
        noise_key = jax.random.fold_in(jax.random.fold_in(key, 1), step)
        batch["x"] = dequantize_block(noise_key, batch["x"], dequantization, batch_size, start)
    if labels is not None:
        batch["label"] = labels[idx]
    return batch


def check_batch_size(batch_size, num_examples: int, name: str) -> int:
    """Validate a static batch size for a finite stream; returns it as an ``int``."""
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
        raise DataError(
            f"batch_size must be a Python int (it fixes array shapes), got {type(batch_size).__name__}"
        )
    if not 1 <= batch_size <= num_examples:
        raise DataError(
            f"batch_size {batch_size} is not in [1, {num_examples}]: dataset {name!r} has "
            f"{num_examples} training examples and a batch may span at most two epochs"
        )
    return int(batch_size)


class ArrayDataset(Dataset):
    """A finite dataset held as JAX arrays; ``train_batch`` is pure JAX.

    Attributes (besides those of ``Dataset``):
      num_train: number of training examples ``n``.
      num_test: number of test examples.
      standardization: ``(mean, std)`` when ``x = (raw - mean) / std`` was applied, else ``None``.
    """

    in_memory = True

    def __init__(
        self,
        name: str,
        *,
        train_x,
        test_x,
        train_labels=None,
        test_labels=None,
        num_classes: int | None = None,
        dequantization: Dequantization | None = None,
        standardization: tuple[float, float] | None = None,
    ):
        """Builds the dataset.

        Args:
          name: registry name.
          train_x: ``[n, *event]``: integer values in ``[0, levels)`` when ``dequantization`` is
            set, else float values.
          test_x: ``[m, *event]``, like ``train_x``.
          train_labels: int ``[n]`` or ``None``.
          test_labels: int ``[m]`` or ``None``.
          num_classes: number of labels; required with labels.
          dequantization: how integer values become continuous; ``None`` for continuous data.
          standardization: ``(mean, std)`` already applied to the values, for reference.
        """
        self.name = name
        self.dequantization = dequantization
        self.standardization = standardization
        value_dtype = jnp.int32 if dequantization is not None else jnp.float32
        self._train_x = jnp.asarray(train_x, value_dtype)
        self._test_x = jnp.asarray(test_x, value_dtype)
        self.event_shape = tuple(self._train_x.shape[1:])
        if (train_labels is None) != (num_classes is None):
            raise ValueError("pass num_classes together with labels")
        self.num_classes = num_classes
        self._train_labels = None if train_labels is None else jnp.asarray(train_labels, jnp.int32)
        self._test_labels = None if test_labels is None else jnp.asarray(test_labels, jnp.int32)

    @property
    def num_train(self) -> int:
        return int(self._train_x.shape[0])

    @property
    def num_test(self) -> int:
        return int(self._test_x.shape[0])

    def train_indices(self, key: jax.Array, step, batch_size: int) -> jax.Array:
        """Indices of the training examples in batch ``step``: int32 ``[batch_size]``."""
        batch_size = check_batch_size(batch_size, self.num_train, self.name)
        return stream_indices(jax.random.fold_in(key, 0), step, batch_size, self.num_train)

    def train_batch(self, key: jax.Array, step, batch_size: int) -> Batch:
        """Batch ``step`` of the stream of ``key``: ``{"x": float32 [B, *event], "label": int32 [B]}``.

        Pure JAX: jit/vmap-able with a traced ``key`` and ``step``; ``batch_size`` is static.
        """
        batch_size = check_batch_size(batch_size, self.num_train, self.name)
        return _gather_batch(
            key,
            step,
            self._train_x,
            self._train_labels,
            batch_size=batch_size,
            dequantization=self.dequantization,
        )

    def train_shard(self, key: jax.Array, step: int, batch_size: int, shard: int, num_shards: int) -> Batch:
        """Rows ``[shard * L, (shard + 1) * L)`` of ``train_batch``, reading only those examples."""
        batch_size = check_batch_size(batch_size, self.num_train, self.name)
        if num_shards == 1:
            return self.train_batch(key, step, batch_size)
        start, stop = shard_rows(batch_size, shard, num_shards)
        return _gather_rows(key, step, start, self._train_x, self._train_labels, batch_size=batch_size,
                            length=stop - start, dequantization=self.dequantization)

    def _test_count(self, num: int | None) -> int:
        if num is None:
            return self.num_test
        if not 1 <= num <= self.num_test:
            raise DataError(f"dataset {self.name!r} has {self.num_test} test examples, asked for {num}")
        return int(num)

    def test_values(self, num: int | None = None) -> Batch:
        """The first ``num`` test examples (all by default) as stored, before dequantization.

        Returns:
          ``{"x": [num, *event], "label": int32 [num]}``: ``x`` int32 values in ``[0, levels)``
          for quantized data (to average a bound over fresh dequantization noise), else float32.
        """
        num = self._test_count(num)
        batch = {"x": self._test_x[:num]}
        if self._test_labels is not None:
            batch["label"] = self._test_labels[:num]
        return batch

    def test_batch(self, num: int | None = None) -> Batch:
        """The first ``num`` test examples (all by default), dequantized with a fixed key.

        Returns:
          ``{"x": float32 [num, *event], "label": int32 [num]}``; deterministic, and the first
          ``k`` examples do not depend on ``num``.
        """
        batch = self.test_values(num)
        if self.dequantization is not None:
            x = batch["x"]
            batch["x"] = dequantize_examples(
                held_out_key(self.name), x, jnp.arange(x.shape[0]), self.dequantization
            )
        return batch
