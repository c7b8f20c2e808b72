"""Training: state, pure train step, multi-device and multi-seed compilation, checkpoints, loop."""

from genjax.train.checkpoint import Checkpointer, abstract_like
from genjax.train.evaluation import draw_samples, evaluate, plot_samples
from genjax.train.loop import (
    LoadedRun,
    Trainer,
    check_workdir_config,
    check_writable_dir,
    load_run,
    load_workdir,
    make_mesh,
    read_workdir_config,
    restore_for_eval,
    train_and_evaluate,
)
from genjax.train.optim import make_optimizer, make_schedule
from genjax.train.state import TrainState, init_state
from genjax.train.step import ema_update, make_host_steps, make_in_memory_steps, make_train_step

__all__ = [
    "Checkpointer",
    "LoadedRun",
    "TrainState",
    "Trainer",
    "abstract_like",
    "check_workdir_config",
    "check_writable_dir",
    "draw_samples",
    "ema_update",
    "evaluate",
    "init_state",
    "load_run",
    "load_workdir",
    "make_host_steps",
    "make_in_memory_steps",
    "make_mesh",
    "make_optimizer",
    "make_schedule",
    "make_train_step",
    "plot_samples",
    "read_workdir_config",
    "restore_for_eval",
    "train_and_evaluate",
]
