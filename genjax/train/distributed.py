"""Joining a JAX distributed job (``genjax train --distributed``): one process per host or per launch.

``initialize()`` must run before anything touches a JAX device. It reads, in this order:

1. ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and
   ``JAX_PROCESS_ID``: set by ``python -m genjax.launch`` on one machine, or by hand on any cluster;
2. otherwise a cluster JAX detects by itself (``jax.distributed.initialize()`` with no arguments):
   a SLURM task started by ``srun`` (``SLURM_JOB_ID``, ``SLURM_STEP_NODELIST``, ``SLURM_NTASKS``,
   ``SLURM_PROCID``, ``SLURM_LOCALID``), every worker of a Cloud TPU VM, an Open MPI job or a
   Kubernetes job.

With none of these it raises a one-line ``GenjaxError`` naming what is missing. CPU processes talk
through gloo collectives (``jax_cpu_collectives_implementation``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from genjax.errors import GenjaxError

log = logging.getLogger("genjax")

ENV_KEYS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
SLURM_KEYS = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID")
NO_CLUSTER = (
    "--distributed found no cluster: JAX_COORDINATOR_ADDRESS is not set{slurm} and this is not a Cloud TPU VM "
    "(nor an Open MPI or Kubernetes job); on one machine run `python -m genjax.launch --processes N -- genjax "
    "train ... --distributed`, under SLURM run it with srun, on a TPU VM on every worker, or set "
    "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID on every process"
)


def _detected_cluster() -> str | None:
    """The name of the cluster environment JAX's own auto-detection would use, or None."""
    try:
        from jax._src import clusters  # JAX's table of cluster environments (no public accessor)

        for env in clusters.ClusterEnv._cluster_types:
            if not env.opt_in_only_method and env.is_env_present():
                return env.__name__
        return None
    except Exception:  # noqa: BLE001  an internal change: let jax.distributed.initialize decide
        return "unknown"


def _slurm_hint(environ: Mapping[str, str]) -> str:
    missing = [k for k in SLURM_KEYS if k not in environ]
    if len(missing) == len(SLURM_KEYS):
        return ", there is no SLURM task"
    return f", the SLURM environment lacks {', '.join(missing)} (start the processes with srun)"


def _int(environ: Mapping[str, str], key: str) -> int:
    try:
        return int(environ[key])
    except ValueError:
        raise GenjaxError(f"--distributed: {key}={environ[key]!r} is not an integer") from None


def initialize(environ: Mapping[str, str] | None = None) -> None:
    """Join the distributed job described by the environment (see the module docstring)."""
    import jax

    environ = os.environ if environ is None else environ
    if environ.get("JAX_COORDINATOR_ADDRESS"):
        missing = [k for k in ENV_KEYS[1:] if not environ.get(k)]
        if missing:
            raise GenjaxError(f"--distributed: JAX_COORDINATOR_ADDRESS is set but {' and '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not (set all three on every process)")
        kwargs = {"coordinator_address": environ["JAX_COORDINATOR_ADDRESS"],
                  "num_processes": _int(environ, "JAX_NUM_PROCESSES"), "process_id": _int(environ, "JAX_PROCESS_ID")}
    else:
        if _detected_cluster() is None:
            raise GenjaxError(NO_CLUSTER.format(slurm=_slurm_hint(environ)))
        kwargs = {}
    if "JAX_CPU_COLLECTIVES_IMPLEMENTATION" not in environ:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(**kwargs)
    except (ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenjaxError(f"--distributed could not join the job ({first})") from None
    log.info("process %d of %d: %d local devices, %d in all", jax.process_index(), jax.process_count(),
             jax.local_device_count(), jax.device_count())


def is_primary() -> bool:
    """True in the process that writes shared files (config, metrics, locks): process 0."""
    import jax

    return jax.process_index() == 0
