"""A thin local launcher: N processes of one command on this machine, as one JAX distributed job.

    python -m genjax.launch --processes 2 --devices-per-process 4 -- \\
        genjax train --config experiments/fm_moons.py --workdir runs/fm2 --distributed

Each process gets the environment JAX's distributed runtime reads (through ``--distributed``,
``genjax.train.distributed.initialize``): ``JAX_COORDINATOR_ADDRESS=127.0.0.1:<free port>``,
``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``, ``JAX_PLATFORMS=cpu``, gloo CPU collectives
(``JAX_CPU_COLLECTIVES_IMPLEMENTATION=gloo``) and ``--xla_force_host_platform_device_count`` in
``XLA_FLAGS``. A leading ``genjax`` in the command runs ``python -m genjax.cli`` with this
interpreter (the same code and environment as the launcher).

Failures propagate: when one process exits with an error or is killed, the others are stopped
(SIGTERM, then SIGKILL after ``--grace`` seconds), a one-line message names the process and how it
ended, and the launcher exits with that process's code (128 + signal for a signal). Processes
other than 0 have their output prefixed with ``[process i]``; SIGINT or SIGTERM to the launcher
reaches every process. This is for one machine; on a
cluster, SLURM (``srun``) or the TPU VM's runtime starts the processes and ``--distributed``
reads their environment instead.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from genjax.errors import GenjaxError

POLL_SECONDS = 0.05
PROG = "python -m genjax.launch"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the coordinator binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(base: dict, *, process_id: int, num_processes: int, port: int, devices: int) -> dict:
    """The environment of process ``process_id``: ``base`` plus what JAX's distributed runtime reads."""
    flags = [f for f in base.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    flags.append(f"--xla_force_host_platform_device_count={devices}")
    return {
        **base,
        "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
        "JAX_NUM_PROCESSES": str(num_processes),
        "JAX_PROCESS_ID": str(process_id),
        "JAX_PLATFORMS": "cpu",
        "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo",
        "XLA_FLAGS": " ".join(flags),
        "PYTHONUNBUFFERED": "1",
    }


def resolve_command(command: Sequence[str]) -> list[str]:
    """A leading ``genjax`` becomes ``<this python> -m genjax.cli`` (same code, same environment)."""
    command = list(command)
    if command and command[0] == "genjax":
        return [sys.executable, "-m", "genjax.cli", *command[1:]]
    return command


def _die_with_parent() -> None:
    # Linux: the child gets SIGKILL when the launcher dies, however it dies, so no process of a
    # job outlives its launcher (and holds the coordinator port or a workdir).
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


_OUTPUT_LOCK = threading.Lock()


def _forward(stream, prefix: bytes, out) -> None:
    """Copies a child's output to ``out`` a whole line at a time (a line ends in a newline or, for
    progress bars, a carriage return), so lines of different processes never mix."""
    pending = b""
    while chunk := os.read(stream.fileno(), 1 << 16):
        pending += chunk
        cut = max(pending.rfind(b"\n"), pending.rfind(b"\r"))
        if cut < 0:
            continue
        ready, pending = pending[:cut + 1], pending[cut + 1:]
        _write(out, ready, prefix)
    if pending:
        _write(out, pending + b"\n", prefix)
    stream.close()


def _write(out, text: bytes, prefix: bytes) -> None:
    if prefix:
        parts = text.splitlines(keepends=True)
        text = b"".join(prefix + part for part in parts)
    with _OUTPUT_LOCK:
        out.write(text)
        out.flush()


def describe(code: int) -> str:
    """How a process ended, from its ``Popen.returncode``."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class _Stopped(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise _Stopped(signum)


class Job:
    """The processes of one launch; ``wait()`` returns the job's exit code."""

    def __init__(self, command: Sequence[str], *, processes: int, devices: int, port: int | None = None,
                 grace: float = 10.0, env: dict | None = None):
        self.command = resolve_command(command)
        self.processes = processes
        self.grace = grace
        self.port = port or free_port()
        base = dict(os.environ if env is None else env)
        self.procs: list[subprocess.Popen] = []
        self._threads: list[threading.Thread] = []
        for i in range(processes):
            child_env = process_env(base, process_id=i, num_processes=processes, port=self.port, devices=devices)
            # Every stdout goes through the launcher, whole lines at a time; stderr too, except
            # process 0's (its tracebacks and warnings reach the terminal untouched).
            proc = subprocess.Popen(self.command, env=child_env, preexec_fn=_die_with_parent, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE if i else None)
            self.procs.append(proc)
            prefix = f"[process {i}] ".encode() if i else b""
            streams = [(proc.stdout, sys.stdout.buffer)] + ([(proc.stderr, sys.stderr.buffer)] if i else [])
            for stream, out in streams:
                t = threading.Thread(target=_forward, args=(stream, prefix, out), daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal every process still running, then SIGKILL those alive after the grace period."""
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(sig)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and any(p.poll() is None for p in self.procs):
            time.sleep(POLL_SECONDS)
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
            p.wait()

    def wait(self) -> int:
        """Wait for every process; the first failure stops the others. Returns the job's exit code."""
        try:
            while True:
                codes = [p.poll() for p in self.procs]
                failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
                if failed:
                    i = failed[0]
                    code = codes[i]
                    running = sum(c is None for c in codes)
                    self.stop()
                    self._join()
                    print(f"genjax.launch: process {i} of {self.processes} (pid {self.procs[i].pid}) {describe(code)}; "
                          f"stopped the other {running} running process(es)", file=sys.stderr, flush=True)
                    return 128 - code if code < 0 else code
                if all(c == 0 for c in codes):
                    self._join()
                    return 0
                time.sleep(POLL_SECONDS)
        except _Stopped as stopped:
            self.stop(stopped.signum)
            self._join()
            name = signal.Signals(stopped.signum).name
            print(f"genjax.launch: got {name}; stopped all {self.processes} processes", file=sys.stderr, flush=True)
            return 128 + stopped.signum

    def _join(self) -> None:
        for t in self._threads:
            t.join(timeout=5)


def _parser() -> argparse.ArgumentParser:
    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise GenjaxError(f"{message} (see `{PROG} --help`)")

    p = Parser(prog=PROG, description="Run a command as N processes of one JAX distributed job on this machine.",
               epilog="example:\n  python -m genjax.launch --processes 2 --devices-per-process 4 -- \\\n"
                      "      genjax train --config experiments/fm_moons.py --workdir runs/fm2 --distributed",
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--processes", type=int, required=True, help="number of processes (JAX_NUM_PROCESSES)")
    p.add_argument("--devices-per-process", type=int, default=1,
                   help="CPU devices each process sees (--xla_force_host_platform_device_count; default 1)")
    p.add_argument("--port", type=int, default=0, help="coordinator port on 127.0.0.1 (default: a free one)")
    p.add_argument("--grace", type=float, default=10.0,
                   help="seconds the other processes get to stop after one fails, before SIGKILL (default 10)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if "--" not in argv:
            raise GenjaxError(f"give the command after `--`, e.g. `{PROG} --processes 2 -- genjax train ...`")
        split = argv.index("--")
        args = _parser().parse_args(argv[:split])
        command = argv[split + 1:]
        if not command:
            raise GenjaxError("no command after `--`")
        if args.processes < 1 or args.devices_per_process < 1:
            raise GenjaxError("--processes and --devices-per-process must be integers >= 1")
        job = Job(command, processes=args.processes, devices=args.devices_per_process, port=args.port or None,
                  grace=args.grace)
    except (GenjaxError, OSError) as e:
        print(f"genjax.launch: error: {e}", file=sys.stderr)
        return 2
    previous = {s: signal.signal(s, _raise_stopped) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return job.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())
