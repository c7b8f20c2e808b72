"""One writer per workdir: an exclusive lock held by ``genjax train`` for the whole run.

The lock is ``<workdir>/.genjax.lock``, locked with ``fcntl.flock`` (released by the kernel when
the process ends, however it ends) and holding the writer's PID, host and start time for the
error message of a second writer. A lock file left by a killed run is stale: its flock is free,
so the next run takes it over (and says so).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pathlib
import socket
import time

from genjax.errors import CheckpointError

log = logging.getLogger("genjax")
LOCK_NAME = ".genjax.lock"


class WorkdirLock:
    """``with WorkdirLock(workdir): ...`` holds the workdir's writer lock (or raises CheckpointError)."""

    def __init__(self, workdir: str | pathlib.Path):
        self.workdir = pathlib.Path(workdir)
        self.path = self.workdir / LOCK_NAME
        self._fd: int | None = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            return {}

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            h = self.holder()
            who = f"process {h.get('pid', '?')} on {h.get('host', '?')} (since {h.get('started', '?')})"
            raise CheckpointError(f"workdir {self.workdir} is being trained by {who}; wait for it to finish, "
                                  "stop it, or use another --workdir") from None
        previous = self.holder()
        if previous:
            log.info("taking over the stale lock of process %s on %s", previous.get("pid"), previous.get("host"))
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # cleaned on exit; unlinked while still held
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkdirLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
