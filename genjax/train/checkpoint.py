"""Checkpoints of the whole TrainState through one wrapper over orbax's CheckpointManager.

Saves are atomic (orbax writes ``<step>.orbax-checkpoint-tmp`` and renames it when complete),
so a process killed at any moment leaves only whole checkpoints plus a temporary directory that
is cleaned up when the trainer next starts. On top of orbax:

- **Integrity**: once a save has finished, the SHA-256 of every file of the step goes into
  ``<step>/genjax_checksums.json``; a restore verifies it, so flipped bytes are found instead of
  silently restored.
- **Damage versus mismatch**: a step that cannot be read (unreadable metadata, failed checksum,
  failed restore) is *damaged*: the newest readable step is used instead, and only then are the
  newer damaged steps moved aside to ``<step>.damaged``, one by one and reported. If no step can
  be read, nothing is renamed and the error lists them all. A step that reads fine but holds a
  different model (other parameter names or shapes) is a *mismatch*: a configuration error,
  reported in one line, and nothing is renamed.
- **Readers**: ``Checkpointer(..., read_only=True)`` (``eval``, ``sample``) never creates,
  cleans, renames or writes anything, so it can read while a trainer writes.
- **Several processes**: every process of a multi-process run makes the same calls (orbax writes
  each process's shards and commits a step once all have written); process 0 alone writes the
  checksums and sets damaged steps aside, and the others wait for it. A restore reads into the
  shardings of the abstract target, so a checkpoint saved on one mesh or process count restores
  on any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp
from absl import logging as absl_logging
from jax.experimental import multihost_utils

from genjax.errors import CheckpointError

log = logging.getLogger("genjax")
CHECKSUMS = "genjax_checksums.json"


def abstract_like(tree: Any) -> Any:
    """Shape/dtype/sharding skeleton of a pytree, the target of a restore."""
    return jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, tree)


def _file_digests(step_dir: pathlib.Path) -> dict[str, str]:
    out = {}
    for path in sorted(step_dir.rglob("*")):
        if path.is_file() and path.name != CHECKSUMS:
            out[str(path.relative_to(step_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _shape_dtype(leaf) -> tuple[tuple[int, ...], str]:
    return tuple(leaf.shape), str(leaf.dtype)


def structure_difference(saved_metadata: Any, abstract_state: Any) -> str | None:
    """A one-line description of how a checkpoint's tree differs from ``abstract_state`` (None: same)."""
    saved = {"/".join(k): _shape_dtype(v) for k, v in ocp.tree.to_flat_dict(saved_metadata).items()}
    wanted = {"/".join(k): _shape_dtype(v) for k, v in ocp.tree.to_flat_dict(abstract_state).items()}
    order = lambda k: (not k.startswith("params/"), k)  # noqa: E731  name a parameter first
    only_saved = sorted(set(saved) - set(wanted), key=order)
    only_wanted = sorted(set(wanted) - set(saved), key=order)
    changed = sorted((k for k in set(saved) & set(wanted) if saved[k] != wanted[k]), key=order)
    parts = []
    if changed:
        k = changed[0]
        parts.append(f"{k} is {saved[k][0]} {saved[k][1]} in the checkpoint, {wanted[k][0]} {wanted[k][1]} now"
                     + (f" (and {len(changed) - 1} more arrays differ)" if len(changed) > 1 else ""))
    if only_saved:
        parts.append(f"{len(only_saved)} arrays only in the checkpoint (e.g. {only_saved[0]})")
    if only_wanted:
        parts.append(f"{len(only_wanted)} arrays only in this model (e.g. {only_wanted[0]})")
    return "; ".join(parts) or None


@contextlib.contextmanager
def _quiet_read_only_warning(read_only: bool):
    """orbax warns that a reader's directory "is read only", which is what a reader asked for."""
    if not read_only:
        yield
        return
    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


class Checkpointer:
    """Saves and restores TrainStates under ``directory``.

    Args:
      directory: where step directories live (created if needed, unless ``read_only``).
      keep: number of most recent checkpoints to keep.
      async_save: write in a background thread after the arrays are copied off the device.
      read_only: a reader (evaluation, sampling): creates, cleans, renames and writes nothing.
    """

    def __init__(self, directory: str | pathlib.Path, *, keep: int = 2, async_save: bool = True,
                 read_only: bool = False):
        self.directory = pathlib.Path(directory).absolute()
        self.read_only = read_only
        # The item handler is named up front so a fresh manager can read a step's metadata.
        with _quiet_read_only_warning(read_only):
            options = ocp.CheckpointManagerOptions(
                max_to_keep=keep,
                create=not read_only,
                cleanup_tmp_directories=not read_only,
                enable_async_checkpointing=async_save and not read_only,
                read_only=read_only,
            )
            self.manager = ocp.CheckpointManager(self.directory, options=options,
                                                 item_handlers={"state": ocp.StandardCheckpointHandler()})
        self._unsummed: list[int] = []  # saved steps whose checksums are not written yet

    # -- saving ------------------------------------------------------------------------------

    def save(self, step: int, state: Any) -> None:
        if self.read_only:
            raise CheckpointError(f"checkpoints in {self.directory} were opened read-only")
        if step in self.manager.all_steps():
            return
        self._write_checksums()  # the previous save has finished by now, or this waits for it
        self.manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state)), force=True)
        self._unsummed.append(int(step))

    def _write_checksums(self) -> None:
        if not self._unsummed:
            return
        self.manager.wait_until_finished()  # in every process: the step is committed by all of them
        if jax.process_index() == 0:
            for step in self._unsummed:
                step_dir = self.directory / str(step)
                if step_dir.is_dir():  # (it may already be rotated out)
                    (step_dir / CHECKSUMS).write_text(json.dumps(_file_digests(step_dir), indent=0) + "\n")
        self._unsummed = []

    def wait(self) -> None:
        """Block until every save is on disk with its checksums."""
        self._write_checksums()
        self.manager.wait_until_finished()

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    # -- restoring ---------------------------------------------------------------------------

    def verify(self, step: int) -> str | None:
        """Why step ``step`` is damaged according to its checksums (None: intact or unchecked)."""
        step_dir = self.directory / str(step)
        path = step_dir / CHECKSUMS
        if not path.is_file():
            return None  # killed between the save and its checksums: orbax's commit marker vouches for it
        try:
            expected = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            return "its checksum file is unreadable"
        actual = _file_digests(step_dir)
        for name, digest in expected.items():
            if name not in actual:
                return f"file {name} is missing"
            if actual[name] != digest:
                return f"file {name} fails its checksum"
        return None

    def _try_restore(self, step: int, abstract_state: Any) -> tuple[Any, str | None]:
        """``(state, None)``, or ``(None, why the step is damaged)``; raises on a model mismatch."""
        problem = self.verify(step)
        if problem is not None:
            return None, problem
        try:
            tree = self.manager.item_metadata(step)["state"].tree
        except Exception as e:  # noqa: BLE001  orbax raises many kinds for an unreadable step
            return None, f"its metadata cannot be read ({type(e).__name__})"
        difference = structure_difference(tree, abstract_state)
        if difference is not None:
            raise CheckpointError(
                f"the checkpoint at step {step} in {self.directory} holds a different model ({difference}); "
                "restore it with the config it was trained with, or use another --workdir"
            )
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state)))
        except Exception as e:  # noqa: BLE001
            return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
        return restored["state"], None

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, int] | tuple[None, None]:
        """Restores ``step`` (default: the newest readable one) into ``abstract_state``.

        Returns ``(state, step)``, or ``(None, None)`` when the directory holds no checkpoint.
        Raises ``CheckpointError`` for a checkpoint of a different model (nothing renamed) or
        when no step can be read (nothing renamed; the message lists why each failed).
        """
        # A reader beside a trainer can see a step rotated out (max_to_keep) while it reads it: a
        # step that is gone afterwards was not damaged, so the listing is read again and the
        # newest step tried again, a few times, before anything is reported.
        for _ in range(5):
            self.manager.reload()
            candidates = [step] if step is not None else sorted(self.manager.all_steps(), reverse=True)
            if not candidates:
                return None, None
            found, damaged, vanished = self._restore_first(candidates, abstract_state)
            if found is not None or not vanished or step is not None:
                break
        if found is not None:
            return found
        if not damaged:
            raise CheckpointError(f"the checkpoints in {self.directory} were deleted while they were read (a trainer "
                                  "rotates them out): read again, or keep more with --config.train.keep_checkpoints")
        listing = "; ".join(f"step {s}: {why}" for s, why in damaged)
        raise CheckpointError(f"no checkpoint in {self.directory} can be read ({listing}); nothing was moved: "
                              "move the checkpoints directory aside to start the run again")

    def _restore_first(self, candidates: list[int], abstract_state: Any):
        """The first readable step of ``candidates``: ``((state, step) or None, damaged, vanished)``,
        where ``vanished`` says a step failed because it was deleted while it was read."""
        damaged: list[tuple[int, str]] = []
        vanished = False
        for s in candidates:
            state, problem = self._try_restore(s, abstract_state)
            if problem is not None and not (self.directory / str(s)).exists():
                vanished = True
                continue
            if problem is None:
                for bad, why in damaged:
                    log.warning("checkpoint at step %d in %s is damaged (%s)%s", bad, self.directory, why,
                                "" if self.read_only else f"; moved aside to {bad}.damaged")
                    if not self.read_only:
                        self._set_aside(bad)
                return (state, s), damaged, vanished
            damaged.append((s, problem))
        return None, damaged, vanished

    def _set_aside(self, step: int) -> None:
        path = self.directory / str(step)
        if jax.process_index() == 0 and path.exists():
            target = self.directory / f"{step}.damaged"
            n = 1
            while target.exists():
                target = self.directory / f"{step}.damaged{n}"
                n += 1
            path.rename(target)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"genjax checkpoint set aside {step}")
        self.manager.reload()

    def close(self) -> None:
        if not self.read_only:
            self._write_checksums()
        self.manager.wait_until_finished()
        self.manager.close()
