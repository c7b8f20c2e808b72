"""Shared by the 2-D consistency experiments (not an experiment): ``experiments/{cd,cd_fm,ct,ict,ect}_*.py``.

Every method trains a network of the teachers' size (4x128 SiLU MLP, 64-d sinusoidal
embedding of ``c_noise = log(sigma) / 4``), batch 1024, Adam with a cosine decay and an EMA of
0.999 for evaluation, on levels from 0.002 to 80 with EDM's scalings (``sigma_data`` the data's
std). The methods differ in what they need and how they train:

| method | needs | student starts from | objective |
| --- | --- | --- | --- |
| ``cd`` | a trained ``edm_<data>`` run | the teacher's network | one Heun teacher step between adjacent levels of a 40-level grid, EMA target 0.95 |
| ``cd_fm`` | a trained straight-path flow-matching run | random | the same, with the velocity read as a denoiser |
| ``ct`` | nothing | random | adjacent levels sharing one noise draw, N(k) 2 -> 150, EMA target mu(k); 20000 steps |
| ``ict`` | nothing | random | doubling N(k) 10 -> 1280, log-normal pairs, 1 / (t - r), pseudo-Huber, no target EMA |
| ``ect`` | a trained ``edm_<data>`` run | the teacher's network | r(t) -> t over stages, shared noise, 1 / (t - r), pseudo-Huber |

Evaluation: W2 (exact OT, 2000 vs 2000, 10 draws) of 1-, 2- and 4-step samples (``cm@K``, the
intermediate levels from the rho grid) against held-out data, next to the W2 floor.
"""

from __future__ import annotations

import ml_collections

from experiments.edm_common import SIGMA_DATA
from genjax.config import default_config

# The teacher run each distillation / tuning experiment reads (its workdir is runs/<name>).
FM_TEACHERS = {"moons": "fm_moons", "8gaussians": "rf_8gaussians"}


def teacher_of(method: str, data: str) -> str | None:
    """The experiment whose run ``method`` on ``data`` needs (None: no teacher)."""
    if method in ("cd", "ect"):
        return f"edm_{data}"
    if method == "cd_fm":
        return FM_TEACHERS[data]
    return None


def cm_2d_config(method: str, data: str) -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = data
    c.data.batch_size = 1024

    c.model = ml_collections.ConfigDict()
    c.model.name = {"cd_fm": "cd"}.get(method, method)
    teacher = teacher_of(method, data)
    if teacher is not None:
        c.model.teacher = f"runs/{teacher}"
    if method not in ("cd", "ect"):  # these start from the teacher's network and its sigma_data
        c.model.sigma_data = SIGMA_DATA[data]
        c.model.hidden = (128, 128, 128, 128)
        c.model.time_dim = 64
    c.model.sampler = "cm@1"

    c.train.steps = 6000
    c.train.lr = 1e-3
    c.train.schedule = "cosine"
    c.train.warmup_steps = 200
    c.train.ema_decay = 0.999
    c.train.steps_per_dispatch = 100
    c.train.log_every = 500
    c.train.checkpoint_every = 3000

    if method in ("cd", "cd_fm"):
        c.model.num_levels = 40
        c.model.solver = "heun"
        c.model.target_decay = 0.95
    elif method == "ct":
        # CT propagates the boundary condition up the levels through its EMA target slowly: at
        # 6000 steps its one-step samples had collapsed to the data mean (W2 10x the floor)
        c.train.steps = 20_000
        c.model.total_steps = c.train.steps
    elif method == "ict":
        c.model.total_steps = c.train.steps
    elif method == "ect":
        c.model.stage_steps = c.train.steps // 8
    c.eval.samplers = ("cm@1", "cm@2", "cm@4")
    c.eval.repeats = 10
    c.eval.mmd = False
    return c
