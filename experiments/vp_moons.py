"""Score SDE on moons: VP SDE (linear beta 0.1..20), continuous time, denoising score matching.

    python -m experiments.vp_moons
    genjax train --config experiments/vp_moons.py --workdir runs/vp_moons --config.train.steps=2000
    genjax eval --workdir runs/vp_moons

Evaluation reports W2 to held-out moons (against the W2 floor) for Euler-Maruyama on the reverse
SDE, predictor-corrector sampling, DDIM at 10, 50 and 1000 steps and the adaptive
probability-flow ODE, and the NLL through the probability-flow ODE. subvp_moons.py and
ve_moons.py change only the process.
"""

import ml_collections

from genjax.config import default_config


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "moons"
    c.data.batch_size = 1024

    c.model = ml_collections.ConfigDict()
    c.model.name = "score_sde"
    c.model.sde = "vp"
    c.model.beta_min = 0.1
    c.model.beta_max = 20.0
    c.model.t_min = 1e-3
    c.model.prediction = "eps"
    c.model.loss = "dsm"
    c.model.weighting = "simple"
    c.model.hidden = (128, 128, 128, 128)
    c.model.time_dim = 64
    c.model.sampler = "ode"

    c.train.steps = 12_000
    c.train.lr = 2e-3
    c.train.schedule = "cosine"
    c.train.warmup_steps = 200
    c.train.ema_decay = 0.999
    c.train.steps_per_dispatch = 100
    c.train.log_every = 1000
    c.train.checkpoint_every = 4000

    c.eval.samplers = ("em@1000", "pc@1000", "ddim@10", "ddim@50", "ddim@1000", "ode")
    c.eval.repeats = 5
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/vp_moons", *sys.argv[1:]]))
