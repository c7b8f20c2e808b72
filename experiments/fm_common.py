"""Shared by the 2-D flow matching experiments (not an experiment): their configs (``experiments/{icfm,otcfm,rf}_*.py``).

Every 2-D task uses the set-up of torchcfm's 2-D examples, so the numbers compare with it:
the MLP on ``[x, t]`` with three hidden layers of 64 SELU units, batch 256, 10 000 Adam steps
at a constant learning rate of 1e-3, no EMA (torchcfm's examples run 20 000 steps; half of that
keeps all twenty runs of the results table within a CPU budget). I-CFM and OT-CFM smooth the path with
``sigma = 0.1`` (Tong et al.); rectified flow uses the straight path (``sigma = 0``).

Tasks: ``8gaussians``, ``moons``, ``scurve`` from N(0, I), and ``8gaussians_moons``
(8gaussians -> moons, data to data).
"""

from __future__ import annotations

import ml_collections

from genjax.config import default_config

TASKS = {
    "8gaussians": ("gaussian", "8gaussians"),
    "moons": ("gaussian", "moons"),
    "scurve": ("gaussian", "scurve"),
    "8gaussians_moons": ("8gaussians", "moons"),
}
METHODS = {
    # name: (coupling, sigma)
    "icfm": ("independent", 0.1),
    "otcfm": ("exact_ot", 0.1),
    "rf": ("independent", 0.0),
    # minibatch OT on the device: epsilon-scaled Sinkhorn (1 -> 0.003 of the mean cost, 15
    # iterations) inside the compiled step, each x1 given a source point drawn from the plan
    "otcfm_sinkhorn": ("sinkhorn", 0.1),
}
SINKHORN_OT = {"sinkhorn_epsilon": 0.003, "sinkhorn_iters": 15, "sinkhorn_anneal_from": 1.0}


def cfm_config(method: str, task: str) -> ml_collections.ConfigDict:
    """The config of ``method`` (a key of ``METHODS``) on ``task`` (a key of ``TASKS``)."""
    source, target = TASKS[task]
    coupling, sigma = METHODS[method]
    c = default_config()
    c.data.name = target
    c.data.batch_size = 256

    c.model = ml_collections.ConfigDict()
    c.model.name = "flow_matching"
    c.model.net = "concat_mlp"
    c.model.hidden = (64, 64, 64)
    c.model.activation = "selu"
    c.model.source = source
    c.model.coupling = coupling
    c.model.sigma = sigma
    if coupling == "sinkhorn":
        c.model.update(SINKHORN_OT)
    c.model.ode = ml_collections.ConfigDict({"solver": "tsit5", "rtol": 1e-5, "atol": 1e-5})

    c.train.steps = 10_000
    c.train.lr = 1e-3
    c.train.schedule = "constant"
    c.train.ema_decay = 0.0
    c.train.steps_per_dispatch = 500
    c.train.log_every = 2000
    c.train.checkpoint_every = 5000

    # W2 of 2000 vs 2000 points, 8 draws (standard errors reported), at the adaptive solve and
    # at 1 and 4 Euler steps (and 2 for rectified flows, whose reflows target few-step sampling).
    few_steps = ("euler@1", "euler@2", "euler@4") if method == "rf" else ("euler@1", "euler@4")
    c.eval.samplers = ("default", *few_steps)
    c.eval.repeats = 8
    c.eval.mmd = False
    return c

