"""Checkpoints of the whole TrainState through one wrapper over orbax's CheckpointManager.

Saves are atomic (orbax writes ``<step>.orbax-checkpoint-tmp`` and renames it when complete),
so a process killed at any moment leaves only whole checkpoints plus a temporary directory that
is cleaned up on the next start. Orbax itself does not skip a damaged latest step: ``restore``
here tries the steps newest first, moves a damaged one aside and reports it.
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp

from genjax.errors import CheckpointError

log = logging.getLogger("genjax")


def abstract_like(tree: Any) -> Any:
    """Shape/dtype/sharding skeleton of a pytree, the target of a restore."""
    return jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, tree)


class Checkpointer:
    """Saves and restores TrainStates under ``directory``.

    Args:
      directory: where step directories live (created if needed).
      keep: number of most recent checkpoints to keep.
      async_save: write in a background thread after the arrays are copied off the device.
    """

    def __init__(self, directory: str | pathlib.Path, *, keep: int = 2, async_save: bool = True):
        self.directory = pathlib.Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            cleanup_tmp_directories=True,
            enable_async_checkpointing=async_save,
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state: Any) -> None:
        if step in self.manager.all_steps():
            return
        self.manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state)), force=True)

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, int] | tuple[None, None]:
        """Restores ``step`` (default: the newest restorable one) into ``abstract_state``.

        Returns ``(state, step)``, or ``(None, None)`` when the directory holds no checkpoint.
        A step that fails to restore is reported, moved aside to ``<step>.damaged`` and the
        previous one is tried; if every step fails the last error is raised as CheckpointError.
        """
        self.manager.reload()
        candidates = [step] if step is not None else sorted(self.manager.all_steps(), reverse=True)
        if not candidates:
            return None, None
        failures = []
        for s in candidates:
            try:
                restored = self.manager.restore(
                    s, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state))
                )
                return restored["state"], s
            except Exception as e:  # orbax raises ValueError, KeyError, FileNotFoundError, ...
                reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                failures.append(f"step {s} ({reason})")
                log.warning("checkpoint at step %d in %s cannot be restored (%s); trying the previous one",
                            s, self.directory, reason)
                if step is None:
                    self._set_aside(s)
        raise CheckpointError(f"no checkpoint in {self.directory} can be restored: {'; '.join(failures)}")

    def _set_aside(self, step: int) -> None:
        path = self.directory / str(step)
        if path.exists():
            target = self.directory / f"{step}.damaged"
            n = 1
            while target.exists():
                target = self.directory / f"{step}.damaged{n}"
                n += 1
            path.rename(target)
        self.manager.reload()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()
