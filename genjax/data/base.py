"""The dataset contract every family and the trainer rely on.

A batch is a flat dict: ``{"x": float32 [batch, *event_shape]}`` plus ``"label": int32 [batch]``
when the dataset has labels. Training batches are a pure function of ``(key, step)``, so a run
killed at any step and resumed draws exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax

Batch = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Dequantization:
    """How the continuous training values relate to the discrete data they came from.

    Continuous values are ``x = scale * (v + u) + shift`` with ``v`` an integer in
    ``[0, levels)`` and ``u ~ U[0, 1)^D``. A density ``p_x`` then bounds the discrete likelihood:
    ``-log P(v) <= -log p_x(x) - D * log(scale)`` (in expectation over ``u``).
    """

    levels: int
    scale: float
    shift: float = 0.0

    @property
    def nats_offset_per_dim(self) -> float:
        """Nats added per dimension to a continuous NLL to get the discrete NLL bound."""
        return -math.log(self.scale)

    @property
    def value_range(self) -> tuple[float, float]:
        """``(low, high)``: the interval ``[shift, shift + scale * levels)`` the values fill."""
        return self.shift, self.shift + self.scale * self.levels


def shard_rows(batch_size: int, shard: int, num_shards: int) -> tuple[int, int]:
    """``(start, stop)`` of shard ``shard`` of ``num_shards`` equal blocks of a batch of ``batch_size`` rows."""
    if num_shards < 1 or not 0 <= shard < num_shards or batch_size % num_shards:
        raise ValueError(f"shard {shard} of {num_shards} does not split a batch of {batch_size} evenly")
    length = batch_size // num_shards
    return shard * length, (shard + 1) * length


class Dataset:
    """Base class. Subclasses set the attributes and implement the methods below.

    Attributes:
      name: registry name.
      event_shape: shape of one example, e.g. ``(2,)`` or ``(28, 28, 1)``.
      num_classes: number of labels, or ``None`` when unlabelled.
      dequantization: set for datasets of discrete values (bits/dim), else ``None``.
      in_memory: True when ``train_batch`` is pure JAX (jit/vmap-able with a traced ``step``
        and ``key``); False for host pipelines (tfds + grain), which need concrete values.
    """

    name: str = ""
    event_shape: tuple[int, ...] = ()
    num_classes: int | None = None
    dequantization: Dequantization | None = None
    in_memory: bool = True

    def train_batch(self, key: jax.Array, step, batch_size: int) -> Batch:
        """The training batch at ``step`` of the stream determined by ``key``."""
        raise NotImplementedError

    def train_shard(self, key: jax.Array, step: int, batch_size: int, shard: int, num_shards: int) -> Batch:
        """Rows ``[shard * L, (shard + 1) * L)`` of ``train_batch(key, step, batch_size)``, ``L = batch_size / num_shards``.

        What one process of a multi-process run reads of each global batch: the shards of all
        processes, concatenated in order, are the global batch, whatever ``num_shards`` is.
        This default draws the whole batch and keeps the rows (right for synthetic sets, whose
        batch is a cheap draw); finite datasets read only their rows.
        """
        start, stop = shard_rows(batch_size, shard, num_shards)
        batch = self.train_batch(key, step, batch_size)
        if num_shards == 1:
            return batch
        return {k: v[start:stop] for k, v in batch.items()}

    def test_batch(self, num: int | None = None) -> Batch:
        """Held-out data, fixed for the dataset (the first ``num`` examples, or all)."""
        raise NotImplementedError

    def sample(self, key: jax.Array, num: int) -> Batch:
        """Fresh i.i.d. draws from the data distribution (only for synthetic sets)."""
        raise NotImplementedError(f"dataset {self.name!r} is finite: it has no sampler")

    @property
    def num_dims(self) -> int:
        return math.prod(self.event_shape)

    @property
    def is_synthetic(self) -> bool:
        return type(self).sample is not Dataset.sample
