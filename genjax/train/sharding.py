"""Meshes, shardings of the batch and the train state, and the process-local view of both.

The mesh is 2-D, ``("data", "fsdp")``, over every device of every process. The batch is split
over both axes (each device gets ``batch_size / device_count`` rows). With
``sharding.fsdp = F > 1`` the large arrays of the train state (parameters, the optimiser's moments,
EMA parameters) are also split ``F`` ways over ``fsdp``, FSDP / ZeRO-3 style: XLA gathers each
parameter where a layer uses it and reduce-scatters its gradient, so a step computes what the
replicated step computes while each device stores ``1/F`` of those arrays. ``F = 1`` is plain data
parallelism with the state replicated.

The rule deciding which arrays are split (``fsdp_spec``) looks at shapes, not names: an array of
at least ``sharding.min_size`` elements is split along its largest axis that ``F`` divides (the
later axis on ties: a conv kernel ``[3, 3, C_in, C_out]`` is split on ``C_out``, a dense kernel
``[d_in, d_out]`` on its larger side); smaller arrays (biases, norms, scalars, keys) and arrays
with no divisible axis stay replicated. The optimiser's moments have their parameter's shape and
so its sharding.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from genjax.errors import ConfigError

MESH_AXES = ("data", "fsdp")
# The batch is split over every device: data parallelism across both axes.
BATCH_AXES = ("data", "fsdp")


def make_mesh(devices=None, *, fsdp: int = 1) -> Mesh:
    """The ``(data, fsdp)`` mesh over ``devices`` (default: every device of every process).

    Args:
      devices: the devices, in order; processes' devices must be contiguous (``jax.devices()``
        is), so that each process holds a contiguous block of every batch.
      fsdp: size of the ``fsdp`` axis; must divide the number of devices.
    """
    devices = jax.devices() if devices is None else list(devices)
    if fsdp < 1 or len(devices) % fsdp:
        raise ConfigError(f"config key 'sharding.fsdp' = {fsdp} must divide the number of devices ({len(devices)})")
    auto = (jax.sharding.AxisType.Auto,) * 2
    return jax.make_mesh((len(devices) // fsdp, fsdp), MESH_AXES, auto, devices=devices)


def batch_sharding(mesh: Mesh, leading: int = 0) -> NamedSharding:
    """Rows split over every device; ``leading`` axes (seeds, steps) before the batch axis are not split."""
    return NamedSharding(mesh, P(*([None] * leading), BATCH_AXES))


def fsdp_spec(shape: tuple[int, ...], fsdp: int, min_size: int, leading: int = 0) -> P:
    """The PartitionSpec of a state array of ``shape`` (see the module docstring).

    Args:
      shape: the array's shape, including ``leading`` axes (a seed axis) that are never split.
      fsdp: size of the mesh's ``fsdp`` axis.
      min_size: arrays with fewer elements (not counting leading axes) stay replicated.
    """
    core = tuple(shape[leading:])
    if fsdp <= 1 or not core or math.prod(core) < min_size:
        return P()
    for axis in sorted(range(len(core)), key=lambda i: (-core[i], -i)):
        if core[axis] % fsdp == 0:
            spec = [None] * len(shape)
            spec[leading + axis] = "fsdp"
            return P(*spec)
    return P()


def state_shardings(abstract_state: Any, mesh: Mesh, *, min_size: int, leading: int = 0) -> Any:
    """A ``NamedSharding`` for every leaf of ``abstract_state`` (shapes only are read)."""
    fsdp = mesh.shape["fsdp"]
    return jax.tree_util.tree_map(lambda s: NamedSharding(mesh, fsdp_spec(s.shape, fsdp, min_size, leading)),
                                  abstract_state)


def process_blocks(sharding: NamedSharding, global_shape: tuple[int, ...], axis: int = 0) -> list[tuple[int, int]]:
    """The rows of ``global_shape[axis]`` this process holds, as ``[(block, num_blocks), ...]`` in row
    order: rows ``[block * L, (block + 1) * L)`` with ``L = global_shape[axis] / num_blocks``.

    With the devices of each process contiguous in the mesh (``jax.devices()`` order) this is one
    block, ``(process_index, process_count)``; another device order gives several.
    """
    size = global_shape[axis]
    slices = sorted({index[axis].indices(size)[:2]
                     for index in sharding.addressable_devices_indices_map(global_shape).values()})
    runs: list[list[int]] = []  # [start, stop) of maximal contiguous runs of device slices
    for start, stop in slices:
        if runs and runs[-1][1] == start:
            runs[-1][1] = stop
        else:
            runs.append([start, stop])
    piece = slices[0][1] - slices[0][0]  # every device holds the same number of rows
    blocks = []
    for start, stop in runs:
        length = stop - start
        if start % length == 0 and size % length == 0:
            blocks.append((start // length, size // length))
        else:  # one block per device slice
            blocks.extend((s // piece, size // piece) for s in range(start, stop, piece))
    return blocks


def host_local(tree: Any) -> Any:
    """``tree`` with every array readable in this process alone.

    Arrays this process holds whole are kept; arrays split across processes (the state of a
    multi-process run) are gathered to every process (a collective: every process must call this)
    and returned as numpy arrays.
    """
    flat, treedef = jax.tree_util.tree_flatten(tree)
    split = [i for i, x in enumerate(flat) if isinstance(x, jax.Array) and not x.is_fully_addressable]
    if not split:
        return tree
    from jax.experimental import multihost_utils

    out = list(flat)
    for i in split:
        # A replicated array is whole on every device (no communication); a sharded one is gathered.
        out[i] = np.asarray(flat[i]) if flat[i].is_fully_replicated else None
    sharded = [i for i in split if out[i] is None]
    for i, value in zip(sharded, multihost_utils.process_allgather([flat[i] for i in sharded], tiled=True)):
        out[i] = value
    return jax.tree_util.tree_unflatten(treedef, out)


def bytes_per_device(abstract: Any) -> dict[str, int]:
    """``{"per_device": bytes on the most loaded device, "total": bytes of one full copy}`` of a tree
    of arrays or ``ShapeDtypeStruct``s carrying shardings."""
    per_device, total = 0, 0
    for leaf in jax.tree_util.tree_leaves(abstract):
        itemsize = np.dtype(leaf.dtype).itemsize
        total += math.prod(leaf.shape) * itemsize
        sharding = getattr(leaf, "sharding", None)
        shard = sharding.shard_shape(leaf.shape) if sharding is not None else leaf.shape
        per_device += math.prod(shard) * itemsize
    return {"per_device": per_device, "total": total}


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"
