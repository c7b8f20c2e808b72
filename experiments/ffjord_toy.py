"""FFJORD on a 2-D toy density: FFJORD's train_toy.py settings (concatsquash 64-64-64, tanh,
dopri5 at rtol = atol = 1e-5, learned end time T from 0.5, exact trace), batch 512.

    python -m experiments.ffjord_toy                                   # 8gaussians
    python -m experiments.ffjord_toy --config.data.name=checkerboard
    python -m experiments.ffjord_toy --config.data.name=pinwheel
    python -m experiments.ffjord_toy --config.data.name=rings
    genjax train --config experiments/ffjord_toy.py --workdir runs/ffjord_8gaussians
    genjax eval --workdir runs/ffjord_8gaussians

``python -m`` writes to ``runs/ffjord_<data>`` and, after training, the sample paths
(``plots/trajectories.png``) and the density on a grid (``plots/density.png``). Evaluation
reports the test NLL with the exact trace (``logp_exact_trace = 1``), the NFE of the density
and sampling solves, and W2 / MMD of samples to held-out data. Hutchinson training:
``--config.model.divergence=hutchinson``; RNODE: ``--config.model.kinetic_weight=0.01
--config.model.jacobian_weight=0.01``; O(1)-memory gradients: ``--config.model.ode.adjoint=backsolve``.
"""

import ml_collections

from genjax.config import default_config


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "8gaussians"
    c.data.batch_size = 512

    c.model = ml_collections.ConfigDict()
    c.model.name = "ffjord"
    c.model.hidden = (64, 64, 64)
    c.model.activation = "tanh"
    c.model.time_length = 0.5
    c.model.train_time = True
    c.model.divergence = "exact"
    c.model.eval_divergence = "exact"
    c.model.probe = "gaussian"
    # automatic first step, as torchdiffeq
    c.model.ode = ml_collections.ConfigDict(
        {"solver": "dopri5", "rtol": 1e-5, "atol": 1e-5, "dt0": "auto", "max_steps": 1000, "adjoint": "recursive"})
    c.model.kinetic_weight = 0.0
    c.model.jacobian_weight = 0.0

    c.train.steps = 10_000
    c.train.lr = 1e-3
    c.train.schedule = "constant"
    c.train.weight_decay = 1e-5
    c.train.optimizer = "adamw"
    c.train.ema_decay = 0.999
    c.train.steps_per_dispatch = 50
    c.train.log_every = 200
    c.train.checkpoint_every = 1000

    c.eval.batch_size = 2000
    c.eval.repeats = 3
    return c


def plot_run(workdir, config) -> list:
    """Trajectory and density plots of the latest checkpoint, in ``workdir/plots``."""
    import pathlib

    import numpy as np

    from genjax import train
    from genjax.continuous.plots import plot_density, plot_trajectories

    trainer, state, _ = train.restore_for_eval(config, workdir)
    params = trainer.eval_params(state)[0]
    out = pathlib.Path(workdir) / "plots"
    ref = np.asarray(trainer.dataset.test_batch(2000)["x"])
    return [plot_trajectories(trainer.model, params, out / "trajectories.png", reference=ref),
            plot_density(trainer.model, params, out / "density.png")]


if __name__ == "__main__":
    import pathlib
    import sys

    from genjax.cli import load_config, main

    name = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--config.data.name=")), "8gaussians")
    workdir = f"runs/ffjord_{name}"
    code = main(["train", "--config", __file__, "--workdir", workdir, *sys.argv[1:]])
    if code == 0:
        for path in plot_run(workdir, load_config(None, pathlib.Path(workdir), [])):
            print(f"wrote {path}")
    sys.exit(code)
