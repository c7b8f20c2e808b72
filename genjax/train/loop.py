"""The training loop: config in, trained and evaluated run out, resumable at any step.

Everything random is a function of ``(config.seed, step)``: the initial params of seed ``s`` come
from ``key(s)``, the batch at step ``t`` from ``fold_in(data_key, t)`` (or the grain index ``t``),
and the step's own randomness from ``fold_in(state.rng, t)``. Dispatch boundaries are a function
of the step and the config alone. A run killed with SIGKILL and restarted with the same command
therefore replays exactly the computation of an uninterrupted run from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from genjax import config as gconfig
from genjax import data as gdata
from genjax import registry
from genjax.errors import CheckpointError, ConfigError, NonFiniteError
from genjax.train import evaluation as geval
from genjax.train import sharding as gshard
from genjax.train.checkpoint import Checkpointer
from genjax.train.distributed import is_primary
from genjax.train.optim import make_group_optimizers, make_optimizer
from genjax.train.state import TrainState, init_state
from genjax.train.step import make_host_steps, make_in_memory_steps, make_train_step, tree_all_finite
from genjax.train.workdir import WorkdirLock

log = logging.getLogger("genjax")

# Keys that may change between a run and its resumption (they do not change what is trained).
RESUMABLE_KEYS = (
    "train.steps",
    "train.log_every",
    "train.eval_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.plot",
    "train.progress",
    "eval.",
    "sample.",
    # Where arrays live, not what is computed: a run may resume on another mesh or process count.
    "sharding.",
)

make_mesh = gshard.make_mesh


@dataclasses.dataclass
class Trainer:
    """A model, its data and optimiser, compiled for a mesh and a number of seeds.

    Build with ``Trainer.from_config(config)``. ``init()`` gives the initial state,
    ``run(state, n)`` advances it ``n`` steps in one dispatch and returns stacked metrics.
    With ``num_seeds > 1`` the state has a leading seed axis and every function is vmapped.

    Batches reach the program in one of two ways. In-memory datasets in one process draw them
    inside the compiled program (``host_fed`` False). Host pipelines (tfds + grain), every dataset
    in a multi-process run, and any dataset with ``host_data=True`` are *host-fed*: each process
    reads only its rows of every global batch (``Dataset.train_shard``) and the global batch is
    assembled with ``jax.make_array_from_process_local_data``. Either way the global batch of step
    ``t`` is the same, whatever the number of processes and devices.
    """

    config: ml_collections.ConfigDict
    dataset: Any
    model: Any
    tx: Any
    schedule: Any
    mesh: jax.sharding.Mesh
    host_data: bool = False
    _compiled: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_config(cls, config, mesh: jax.sharding.Mesh | None = None, *, host_data: bool = False) -> Trainer:
        gconfig.validate(config)
        dataset = gdata.get_dataset(config.data.name, **dict(config.data.options))
        model = registry.build_model(config.model, dataset, load_run=load_run)
        tx, schedule = make_optimizer(config.train)
        if model.param_groups:
            tx = make_group_optimizers(config.train, model.param_groups)
        elif config.train.get("groups"):
            raise ConfigError(f"config key 'train.groups' applies to models with several parameter groups; "
                              f"model {config.model.name!r} has one: set train.* instead")
        mesh = mesh or make_mesh(fsdp=config.sharding.fsdp)
        n_dev = mesh.devices.size
        if config.data.batch_size % n_dev:
            raise ConfigError(
                f"config key 'data.batch_size' = {config.data.batch_size} must be divisible by the "
                f"number of devices ({n_dev}) to split the batch across them"
            )
        return cls(config, dataset, model, tx, schedule, mesh, host_data)

    # -- keys and shapes ---------------------------------------------------------------------

    @property
    def num_seeds(self) -> int:
        return self.config.train.num_seeds

    @property
    def batch_size(self) -> int:
        return self.config.data.batch_size

    @property
    def host_fed(self) -> bool:
        """Whether batches are read on the host (per process) rather than drawn inside the program."""
        return self.host_data or not self.dataset.in_memory or jax.process_count() > 1

    def _seed_keys(self) -> tuple[jax.Array, jax.Array]:
        """``(root keys, data keys)``: one per seed, ``[N]`` (or scalars when N = 1)."""
        seeds = self.config.seed + np.arange(self.num_seeds)
        roots = [jax.random.key(int(s)) for s in seeds]
        init_keys = [jax.random.fold_in(r, 0) for r in roots]
        data_keys = [jax.random.fold_in(r, 1) for r in roots]
        if self.num_seeds == 1:
            return init_keys[0], data_keys[0]
        return jnp.stack(init_keys), jnp.stack(data_keys)

    @functools.cached_property
    def _data_keys(self) -> jax.Array:
        """The seeds' data keys, built once (no eager work on each dispatch)."""
        return self._seed_keys()[1]

    def _per_seed(self, keys) -> list:
        return [keys] if self.num_seeds == 1 else [keys[i] for i in range(self.num_seeds)]

    def _vmap(self, fn):
        return jax.vmap(fn) if self.num_seeds > 1 else fn

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, P())

    def _batch_sharding(self, leading: int) -> NamedSharding:
        # ``leading`` axes (seeds, steps) come before the batch axis, which is split.
        return gshard.batch_sharding(self.mesh, leading)

    @functools.cached_property
    def process_blocks(self) -> list[tuple[int, int]]:
        """``[(block, num_blocks), ...]``: this process reads rows ``[block * L, (block + 1) * L)`` of
        every global batch, ``L = batch_size / num_blocks`` (``[(0, 1)]`` in a single process;
        ``[(process_index, process_count)]`` on the default mesh)."""
        return gshard.process_blocks(self._batch_sharding(0), (self.batch_size,), 0)

    def local_batch(self, data_key, step: int) -> dict:
        """This process's rows of the global batch ``step`` of the stream of ``data_key`` (host arrays)."""
        parts = [self.dataset.train_shard(data_key, step, self.batch_size, block, blocks)
                 for block, blocks in self.process_blocks]
        return jax.tree_util.tree_map(lambda *p: np.concatenate([np.asarray(x) for x in p]), *parts)

    # -- state -------------------------------------------------------------------------------

    def first_batch(self, data_key) -> dict:
        key = data_key if self.num_seeds == 1 else data_key[0]
        if self.host_fed:
            batch = self.local_batch(key, 0)
        else:
            batch = self.dataset.train_batch(key, 0, self.batch_size)
        gdata.check_batch(batch, self.dataset)
        return batch

    def _init_program(self):
        """``(fn, args)`` with ``fn(*args)`` the initial state; the args are concrete.

        In-memory data in one process draws the first batch inside the program; host-fed data
        reads it here (each process its rows, assembled into the global batch), so that ``fn``
        traces under ``jax.eval_shape`` as well as ``jax.jit``. Keys go in as raw key data, which
        every process holds whole.
        """
        init_keys, data_keys = self._seed_keys()
        self.first_batch(data_keys)  # validates shapes and values before any compilation
        if self.host_fed:
            local = self._stack_seeds([self.local_batch(k, 0) for k in self._per_seed(data_keys)])
            first = self._assemble(local, leading=0 if self.num_seeds == 1 else 1)
            fn = lambda kd, b: init_state(self.model, self.tx, jax.random.wrap_key_data(kd), b)  # noqa: E731
            return self._vmap(fn), (np.asarray(jax.random.key_data(init_keys)), first)

        def one(init_key, data_key):
            batch = self.dataset.train_batch(data_key, 0, self.batch_size)
            return init_state(self.model, self.tx, init_key, batch)

        return self._vmap(one), (init_keys, data_keys)

    @functools.cached_property
    def _abstract(self) -> Any:
        fn, args = self._init_program()
        return jax.eval_shape(fn, *args)

    @functools.cached_property
    def state_sharding(self) -> Any:
        """The ``NamedSharding`` of every leaf of the state: replicated, or split over ``fsdp``
        by ``genjax.train.sharding.fsdp_spec`` with ``sharding.fsdp > 1``."""
        leading = 1 if self.num_seeds > 1 else 0
        return gshard.state_shardings(self._abstract, self.mesh, min_size=self.config.sharding.min_size,
                                      leading=leading)

    def init(self) -> TrainState:
        fn, args = self._init_program()
        return jax.jit(fn, out_shardings=self.state_sharding)(*args)

    def abstract_state(self) -> Any:
        """Shapes, dtypes and shardings of the state: the target a checkpoint is restored into
        (whatever mesh or process count saved it)."""
        return jax.tree_util.tree_map(
            lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), self._abstract, self.state_sharding
        )

    def state_memory(self) -> dict[str, int]:
        """Bytes of the state: ``per_device`` (the most any one device stores) and ``total`` (one copy)."""
        return gshard.bytes_per_device(self.abstract_state())

    # -- stepping ----------------------------------------------------------------------------

    def _constrain(self, batch):
        if self.mesh.devices.size == 1:
            return batch
        return jax.lax.with_sharding_constraint(batch, self._batch_sharding(0))

    def _compile(self, n: int):
        if n in self._compiled:
            return self._compiled[n]
        train_step = make_train_step(
            self.model, self.tx, ema_decay=self.config.train.ema_decay,
            ema_warmup=bool(self.config.train.get("ema_warmup", False)), schedule=self.schedule,
            skip_nonfinite=self.config.train.skip_nonfinite_updates,
        )
        if not self.host_fed:
            batch_fn = lambda key, step: self.dataset.train_batch(key, step, self.batch_size)  # noqa: E731
            run = make_in_memory_steps(train_step, batch_fn, n, self._constrain)
        else:
            run = make_host_steps(train_step)
        steps = self._vmap(run)
        skipping = self.config.train.skip_nonfinite_updates

        def checked(state, data):
            # The finiteness of every loss (unless non-finite updates are skipped) and of the
            # parameters and optimiser state the dispatch ends with, reduced inside the program
            # (one scalar back to the host).
            state, metrics = steps(state, data)
            finite = tree_all_finite((state.params, state.opt_state))
            if not skipping:
                finite = finite & jnp.all(jnp.isfinite(metrics["loss"]))
            return state, metrics, finite

        # The state keeps its sharding across dispatches (FSDP-split arrays stay split); metrics
        # and the finiteness flag come back replicated, readable in every process.
        fn = jax.jit(checked, donate_argnums=0,
                     out_shardings=(self.state_sharding, self.replicated, self.replicated))
        self._compiled[n] = fn
        return fn

    def _stack_seeds(self, per_seed: list) -> Any:
        return per_seed[0] if self.num_seeds == 1 else jax.tree_util.tree_map(lambda *b: np.stack(b), *per_seed)

    def _assemble(self, local: Any, leading: int) -> Any:
        """Global arrays from this process's rows (the axis after ``leading`` ones is the batch)."""
        sharding = self._batch_sharding(leading)

        def one(rows):
            shape = list(rows.shape)
            shape[leading] = self.batch_size
            global_shape = tuple(shape) if jax.process_count() > 1 else None
            return jax.make_array_from_process_local_data(sharding, rows, global_shape)

        return jax.tree_util.tree_map(one, local)

    def _host_batches(self, data_keys, step: int, n: int):
        """The global batches of steps ``step .. step + n - 1``, ``[(N,) n, batch, ...]``, from this
        process's rows (``local_batch``)."""
        per_seed = []
        for key in self._per_seed(data_keys):
            batches = [self.local_batch(key, step + i) for i in range(n)]
            per_seed.append(jax.tree_util.tree_map(lambda *b: np.stack(b), *batches))
        return self._assemble(self._stack_seeds(per_seed), leading=1 if self.num_seeds == 1 else 2)

    def dispatch(self, state: TrainState, step: int, n: int) -> tuple[TrainState, dict, jax.Array]:
        """Advance ``n`` steps from ``step`` in one dispatch: ``(state, metrics [(N,) n], finite)``.

        ``finite`` (a scalar bool array, not yet on the host) says whether every loss and the
        final parameters and optimiser state are finite.
        """
        data_keys = self._data_keys
        fn = self._compile(n)
        if not self.host_fed:
            return fn(state, data_keys)
        return fn(state, self._host_batches(data_keys, step, n))

    def step_memory(self, state: TrainState, n: int = 1) -> dict[str, int]:
        """Bytes per device of the compiled ``n``-step dispatch, from XLA's memory analysis:
        ``arguments`` (state and batches), ``outputs``, ``temp`` (activations, gathered parameters,
        gradients) and ``state`` (the train state's share, as ``state_memory``). Compiles the
        program once more; for reports, not for the training loop."""
        data = self._data_keys if not self.host_fed else self._host_batches(self._data_keys, 0, n)
        analysis = self._compile(n).lower(state, data).compile().memory_analysis()
        return {"arguments": int(analysis.argument_size_in_bytes), "outputs": int(analysis.output_size_in_bytes),
                "temp": int(analysis.temp_size_in_bytes), "state": self.state_memory()["per_device"]}

    def run(self, state: TrainState, step: int, n: int) -> tuple[TrainState, dict]:
        """Advance ``n`` steps from ``step`` in one dispatch; metrics stacked ``[(N,) n]``."""
        state, metrics, _ = self.dispatch(state, step, n)
        return state, metrics

    def unstack(self, tree) -> list:
        if self.num_seeds == 1:
            return [tree]
        return [jax.tree_util.tree_map(lambda a, i=i: a[i], tree) for i in range(self.num_seeds)]

    def eval_params(self, state: TrainState) -> list:
        """The evaluation parameters of each seed, readable in this process alone (gathered from
        the other processes in a multi-process run: every process must call this)."""
        params = state.ema_params if self.config.eval.use_ema else state.params
        return self.unstack(gshard.host_local(params))

    def evaluate(self, state: TrainState) -> dict[str, float]:
        per_seed = [geval.evaluate(self.model, p, self.dataset, self.config.eval) for p in self.eval_params(state)]
        return geval.stack_seeds(per_seed)


# ---------------------------------------------------------------------------------------------
# workdir


def config_differences(saved: dict, current: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    diffs = []
    for key in sorted(set(saved) | set(current)):
        path = f"{prefix}{key}"
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if {_kind(a), _kind(b)} == {"absent", "empty"}:
            continue  # an empty section and a missing one are the same config
        if isinstance(a, dict) and isinstance(b, dict):
            diffs.extend(config_differences(a, b, path + "."))
        elif a != b:
            diffs.append((path, a, b))
    return diffs


def _kind(value) -> str:
    if isinstance(value, str) and value == "<absent>":
        return "absent"
    return "empty" if value == {} else "value"


def _jsonable(config) -> dict:
    return json.loads(config.to_json())


def check_workdir_config(workdir: pathlib.Path, config) -> None:
    """Refuses to resume a workdir trained with a different model, data or optimiser."""
    path = workdir / "config.json"
    if not path.exists():
        return
    saved = _saved_config(workdir)
    diffs = config_differences(saved, _jsonable(config))
    structural = [
        d for d in diffs
        if not any(d[0] == k or (k.endswith(".") and d[0].startswith(k)) for k in RESUMABLE_KEYS)
    ]
    if structural:
        listing = "; ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, a, b in structural[:8])
        more = f" (and {len(structural) - 8} more)" if len(structural) > 8 else ""
        raise CheckpointError(
            f"workdir {workdir} holds a run with a different config ({listing}{more}); "
            f"use a new --workdir, or restore the original settings"
        )
    steps = [d for d in diffs if d[0] == "train.steps"]
    if steps and config.train.schedule != "constant":
        log.warning(
            "train.steps changed from %s to %s: the %s learning-rate schedule is stretched, so the "
            "continued run differs from one trained for %s steps from the start",
            steps[0][1], steps[0][2], config.train.schedule, steps[0][2],
        )


class MetricsLog:
    """``metrics.jsonl``: one JSON object a line; on resume, lines past the checkpoint are dropped.

    ``enabled=False`` (processes other than 0 of a multi-process run) reads and writes nothing.
    """

    def __init__(self, path: pathlib.Path, resume_step: int | None, *, enabled: bool = True):
        self.path = path
        self.enabled = enabled
        if enabled and path.exists():
            keep = []
            for line in path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by a kill
                    continue
                if resume_step is not None and rec.get("step", 0) <= resume_step:
                    keep.append(line)
            path.write_text("".join(l + "\n" for l in keep))

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def _next_boundary(step: int, total: int, k: int, every: list[int]) -> int:
    candidates = [total, (step // k + 1) * k]
    candidates += [(step // e + 1) * e for e in every if e > 0]
    return min(c for c in candidates if c > step)


# Metrics counted over a logging window rather than averaged.
SUMMED_METRICS = ("skipped_updates",)


def _mean_metrics(chunks: list[dict]) -> dict[str, float]:
    host = jax.device_get(chunks)
    out = {}
    for k in host[0]:
        values = np.concatenate([np.ravel(c[k]) for c in host])
        out[k] = float(np.sum(values) if k in SUMMED_METRICS else np.mean(values))
    return out


def _format(metrics: dict[str, float], keys=None) -> str:
    items = metrics.items() if keys is None else [(k, metrics[k]) for k in keys if k in metrics]
    return ", ".join(f"{k}={v:.4g}" for k, v in items if "[" not in k)


def check_writable_dir(path: pathlib.Path, flag: str = "--workdir") -> None:
    """A directory this process can write into (created if missing), or a one-line error."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{flag} {path} cannot be created ({e.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path} is not writable: make it writable or choose another")


def train_and_evaluate(config, workdir: str | pathlib.Path, *, mesh=None,
                       trainer: Trainer | None = None) -> dict[str, float]:
    """Train (resuming from ``workdir`` if it holds checkpoints), evaluate, and return the final metrics.

    The run holds the workdir's writer lock throughout (a second ``train`` on it is refused);
    ``config.json`` is written only once the workdir's checkpoints (if any) have been restored
    into this config's model; a non-finite loss or parameter stops the run before it is saved.

    In a multi-process run every process calls this with the same arguments: all of them train,
    checkpoint (orbax writes each process's shards) and evaluate; process 0 alone holds the lock
    and writes ``config.json``, ``metrics.jsonl``, ``final_metrics.json`` and the plots.
    ``trainer``: one built from ``config`` by the caller (to reuse its model's compiled
    functions afterwards); by default one is built here.
    """
    workdir = pathlib.Path(workdir)
    check_writable_dir(workdir)
    trainer = Trainer.from_config(config, mesh=mesh) if trainer is None else trainer
    with WorkdirLock(workdir) if is_primary() else contextlib.nullcontext():
        return _train_locked(trainer, config, workdir)


def _train_locked(trainer: Trainer, config, workdir: pathlib.Path) -> dict[str, float]:
    tcfg = config.train
    check_workdir_config(workdir, config)
    ckpt = Checkpointer(workdir / "checkpoints", keep=tcfg.keep_checkpoints)
    try:
        state, step = ckpt.restore(trainer.abstract_state())
    except CheckpointError:
        ckpt.close()
        raise
    if state is not None and step > tcfg.steps:
        ckpt.close()
        raise ConfigError(
            f"config key 'train.steps' = {tcfg.steps} is below the workdir's latest checkpoint (step {step}); "
            f"train.steps may only grow (genjax eval --workdir {workdir} evaluates step {step})"
        )
    primary = is_primary()
    if primary:
        _write_atomic(workdir / "config.json", json.dumps(_jsonable(config), indent=2) + "\n")
    if state is None:
        state, step = trainer.init(), 0
    else:
        log.info("resumed from %s at step %d", ckpt.directory, step)
        if primary:
            print(f"resuming from step {step} in {ckpt.directory}", flush=True)
    _report_layout(trainer, primary)
    mlog = MetricsLog(workdir / "metrics.jsonl", resume_step=step, enabled=primary)
    plots = workdir / "plots"

    total, k = tcfg.steps, tcfg.steps_per_dispatch
    every = [tcfg.log_every, tcfg.checkpoint_every, tcfg.eval_every]
    pbar = None
    if tcfg.progress and primary:
        from tqdm.auto import tqdm

        pbar = tqdm(total=total, initial=step, desc="train", dynamic_ncols=True)
    window: list[dict] = []
    t_window, steps_window = time.perf_counter(), 0
    try:
        while step < total:
            n = _next_boundary(step, total, k, every) - step
            state, m, finite = trainer.dispatch(state, step, n)
            if not bool(finite):  # checked every dispatch, before anything is saved
                raise NonFiniteError(_nonfinite_message(m, step, n, ckpt, tcfg))
            window.append(m)
            step += n
            steps_window += n
            if pbar is not None:
                pbar.update(n)
            if step % tcfg.log_every == 0 or step == total:
                record = _mean_metrics(window)
                rate = steps_window / (time.perf_counter() - t_window)
                mlog.write({"step": step, "split": "train", **record, "steps_per_sec": rate})
                if pbar is not None:
                    pbar.set_postfix(loss=f"{record['loss']:.4f}", it_s=f"{rate:.0f}")
                window, t_window, steps_window = [], time.perf_counter(), 0
            if step % tcfg.checkpoint_every == 0 or step == total:
                ckpt.save(step, state)
            if tcfg.eval_every and step % tcfg.eval_every == 0 and step != total:
                results = trainer.evaluate(state)
                mlog.write({"step": step, "split": "eval", **results})
                if tcfg.plot:
                    _plot(trainer, state, plots / f"samples_{step:07d}.png")
                t_window = time.perf_counter()
        ckpt.save(step, state)
    finally:
        if pbar is not None:
            pbar.close()
        ckpt.close()  # waits for any save in flight and writes its checksums

    results = trainer.evaluate(state)
    mlog.write({"step": step, "split": "eval", **results})
    if primary:
        (workdir / "final_metrics.json").write_text(json.dumps({"step": step, **results}, indent=2) + "\n")
    if tcfg.plot:
        _plot(trainer, state, plots / "samples_final.png")
    return {"step": step, **results}


def _nonfinite_message(metrics: dict, step: int, n: int, ckpt: Checkpointer, tcfg) -> str:
    losses = np.asarray(jax.device_get(metrics["loss"])).reshape(-1, n)  # [(seeds,) n]
    bad = np.where(~np.all(np.isfinite(losses), axis=0))[0]
    where = f"at step {step + int(bad[0]) + 1}" if bad.size else f"within steps {step + 1}-{step + n}"
    saved = ckpt.steps()
    last = f"the last checkpoint is step {saved[-1]}" if saved else "no checkpoint was written"
    hint = "lower train.lr, set train.grad_clip, or set train.skip_nonfinite_updates=True"
    return f"non-finite loss or parameters {where}; training stopped and {last} (all saved checkpoints are finite): {hint}"


def _write_atomic(path: pathlib.Path, text: str) -> None:
    # Another process of the run may be reading the previous version.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _report_layout(trainer: Trainer, primary: bool) -> None:
    """Logs (and, when the state is split, prints) where the run lives and the state's bytes per device."""
    mesh = trainer.mesh
    memory = trainer.state_memory()
    line = (f"mesh data={mesh.shape['data']} x fsdp={mesh.shape['fsdp']} over {jax.process_count()} process(es); "
            f"train state {gshard.format_bytes(memory['per_device'])} per device "
            f"({gshard.format_bytes(memory['total'])} replicated)")
    log.info(line)
    if primary and mesh.shape["fsdp"] > 1:
        print(line, flush=True)


def _plot(trainer: Trainer, state: TrainState, path: pathlib.Path) -> None:
    params = trainer.eval_params(state)[0]  # gathered by every process
    if not is_primary():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    geval.plot_samples(trainer.model, params, trainer.dataset, path, sampler=trainer.config.eval.samplers[0])
    geval.plot_extras(trainer.model, params, trainer.dataset, path.parent, path.stem.removeprefix("samples_"))


def _tuples(value):
    """JSON turns tuples into lists; configs use tuples."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def read_workdir_config(workdir: str | pathlib.Path) -> ml_collections.ConfigDict:
    """The config a workdir was trained with (its ``config.json``)."""
    if not (pathlib.Path(workdir) / "config.json").is_file():
        raise CheckpointError(f"workdir {workdir} holds no config.json (is it a genjax workdir? "
                              "train into it first, or give --config FILE)")
    return ml_collections.ConfigDict(_tuples(_saved_config(workdir)))


def _saved_config(workdir: str | pathlib.Path) -> dict:
    """``config.json`` as a dict, with the generic keys it predates filled in with their defaults
    (a run saved before a key existed was trained as if with its default)."""
    path = pathlib.Path(workdir) / "config.json"
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"workdir {workdir}: config.json is damaged ({e.msg} at line {e.lineno}); "
                              "restore it or give --config FILE") from None
    return _fill(saved, _jsonable(gconfig.default_config()))


def _fill(saved: dict, defaults: dict) -> dict:
    out = dict(saved)
    for key, value in defaults.items():
        if key == "model":
            continue  # model keys belong to the family; its builder supplies their defaults
        if key not in out:
            out[key] = value
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _fill(out[key], value)
    return out


@dataclasses.dataclass
class LoadedRun:
    """A trained run restored from its workdir: config, model, data and the latest good state.

    ``params()`` are the evaluation parameters (EMA or raw, as ``config.eval.use_ema``) of one seed.
    """

    config: ml_collections.ConfigDict
    trainer: Trainer
    state: TrainState
    step: int

    @property
    def model(self):
        return self.trainer.model

    @property
    def dataset(self):
        return self.trainer.dataset

    def params(self, seed: int = 0, *, ema: bool | None = None):
        use_ema = self.config.eval.use_ema if ema is None else ema
        tree = self.state.ema_params if use_ema else self.state.params
        return self.trainer.unstack(tree)[seed]


def load_run(workdir: str | pathlib.Path) -> tuple[Any, Any]:
    """``(model, evaluation params)`` of a trained run, read-only: what a model built on another
    run (a distillation teacher, a diffusion model to fine-tune) receives from its builder's
    ``load_run`` (``genjax.registry.build_model``)."""
    run = load_workdir(workdir)
    return run.model, run.params()


def load_workdir(workdir: str | pathlib.Path, config: ml_collections.ConfigDict | None = None) -> LoadedRun:
    """Restore a workdir for evaluation, sampling or plotting (notebooks, benchmarks, scripts).

    Args:
      workdir: a directory ``genjax train`` wrote.
      config: the config to build the model from (default: the workdir's own ``config.json``);
        evaluation and sampling keys may differ from the training run's.
    """
    config = read_workdir_config(workdir) if config is None else config
    trainer, state, step = restore_for_eval(config, workdir)
    return LoadedRun(config, trainer, state, step)


def restore_for_eval(config, workdir: str | pathlib.Path) -> tuple[Trainer, TrainState, int]:
    """The trainer and the latest good state of a workdir (for ``eval`` and ``sample``).

    Reads only: the checkpoints are opened read-only (a trainer may be writing the same workdir),
    and non-finite parameters are refused.
    """
    workdir = pathlib.Path(workdir)
    if not workdir.is_dir():
        raise CheckpointError(f"workdir {workdir} does not exist" if not workdir.exists()
                              else f"workdir {workdir} is a file, not a directory")
    if not (workdir / "checkpoints").is_dir():
        raise CheckpointError(f"workdir {workdir} has no checkpoints; train first with `genjax train`")
    check_workdir_config(workdir, config)
    trainer = Trainer.from_config(config)
    ckpt = Checkpointer(workdir / "checkpoints", keep=config.train.keep_checkpoints, read_only=True)
    try:
        state, step = ckpt.restore(trainer.abstract_state())
    finally:
        ckpt.close()
    if state is None:
        raise CheckpointError(f"workdir {workdir} has no checkpoints; train first with `genjax train`")
    if not bool(tree_all_finite((state.params, state.ema_params))):
        raise CheckpointError(f"the checkpoint at step {step} in {workdir} holds non-finite parameters; "
                              "it cannot be evaluated or sampled (train again from an earlier checkpoint)")
    return trainer, state, step
