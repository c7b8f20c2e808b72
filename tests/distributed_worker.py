"""The program the multi-process tests run, as one process or as several (``python -m genjax.launch``).

    python -m tests.distributed_worker TASK [TASK ...]

Tasks, run in order (one process start and one ``jax.distributed.initialize`` for all of them):

    steps:OUT             three steps; parameters and the rows each process read go to OUT
    reference:OUT         the same in one process, on all its devices and on one, with the whole batches
    fit:WORKDIR:STEPS     train_and_evaluate to STEPS (checkpoints every 10) on every device
    fit1:WORKDIR:STEPS    the same on one device
    cli:WORKDIR           ``genjax train`` of experiments/fm_moons.py with CLI_OVERRIDES

Under the launcher it joins the job (``genjax.train.distributed.initialize``); alone it is one
process with the devices ``XLA_FLAGS`` forces.
"""

import os
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
STEPS = 3
IMAGE_STEPS = 2
CLI_OVERRIDES = ("--config.data.batch_size=64", "--config.model.hidden=(32,32)", "--config.model.time_dim=16",
                 "--config.model.ode.solver=euler", "--config.model.ode.steps=2", "--config.train.steps=120",
                 "--config.train.checkpoint_every=20", "--config.train.log_every=20",
                 "--config.train.steps_per_dispatch=1", "--config.train.progress=false", "--config.train.plot=false",
                 "--config.eval.num_samples=200", "--config.eval.repeats=1", "--config.eval.mmd=false")


def small_config(**train):
    from tests.conftest import tiny_fm_config

    c = tiny_fm_config(**train)
    c.data.name = "digits"  # finite, labelled and dequantized: every part of the per-host read
    c.model.hidden = (64, 64)
    return c


def fit_config(steps: int):
    return small_config(steps=steps, checkpoint_every=10, log_every=5, steps_per_dispatch=5, schedule="constant")


def flat(tree) -> dict:
    import jax

    return {jax.tree_util.keystr(path): np.asarray(v) for path, v in jax.tree_util.tree_leaves_with_path(tree)}


def steps(out: pathlib.Path, reference: bool) -> None:
    """Three steps at batch 64; each process saves the rows it read, process 0 the parameters."""
    import jax
    import ml_collections
    import tensorflow_datasets as tfds

    from genjax import train
    from genjax.train import sharding as gshard

    out.mkdir(parents=True, exist_ok=True)
    config = small_config()
    meshes = {"multi": None} if not reference else {"1x8": jax.devices(), "1x1": jax.devices()[:1]}
    for name, devices in meshes.items():
        trainer = train.Trainer.from_config(config, mesh=None if devices is None else train.make_mesh(devices))
        state, _ = trainer.run(trainer.init(), 0, STEPS)
        params = gshard.host_local(state.params)
        if jax.process_index() == 0:
            np.savez(out / f"params_{name}.npz", **flat(params))
    key = trainer._data_keys
    rows = {}
    if reference:  # the global batches as one process reads them
        rows.update({f"digits/{t}/{k}": np.asarray(v) for t in range(STEPS)
                     for k, v in trainer.dataset.train_batch(key, t, config.data.batch_size).items()})
    else:
        rows.update({f"digits/{t}/{k}": v for t in range(STEPS) for k, v in trainer.local_batch(key, t).items()})
        rows["block"] = np.asarray(trainer.process_blocks)
    # The tfds + grain pipeline (mock records, the same in every process): rows read per process.
    image = small_config()
    image.data.name, image.data.batch_size = "mnist", 16
    image.model = ml_collections.ConfigDict({"name": "ddpm", "channels": 8, "channel_mult": (1,),
                                             "num_res_blocks": 1, "attention_levels": ()})
    with tfds.testing.mock_data(num_examples=64):
        it = train.Trainer.from_config(image, mesh=train.make_mesh(jax.devices()))
        for t in range(IMAGE_STEPS):
            batch = it.dataset.train_batch(it._data_keys, t, 16) if reference else it.local_batch(it._data_keys, t)
            rows.update({f"mnist/{t}/{k}": np.asarray(v) for k, v in batch.items()})
    np.savez(out / f"rows_{'reference' if reference else jax.process_index()}.npz", **rows)


def run(task: str) -> None:
    import jax

    from genjax import cli, train

    name, *args = task.split(":")
    if name in ("steps", "reference"):
        steps(pathlib.Path(args[0]), name == "reference")
    elif name in ("fit", "fit1"):
        mesh = train.make_mesh(jax.devices()[:1]) if name == "fit1" else None
        train.train_and_evaluate(fit_config(int(args[1])), args[0], mesh=mesh)
    elif name == "cli":
        argv = ["train", "--config", str(REPO / "experiments" / "fm_moons.py"), "--workdir", args[0], *CLI_OVERRIDES]
        if cli.main(argv) != 0:
            raise SystemExit(f"genjax train failed: {argv}")
    else:
        raise SystemExit(f"unknown task {task!r}")


def main(tasks) -> None:
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        from genjax.train.distributed import initialize

        initialize()
    for task in tasks:
        run(task)
    print("WORKER DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
