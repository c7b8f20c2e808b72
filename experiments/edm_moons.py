"""EDM on moons: preconditioned denoiser, log-normal noise levels, Heun on the rho grid (18 steps, 35 NFE).

    python -m experiments.edm_moons
    genjax train --config experiments/edm_moons.py --workdir runs/edm_moons --config.train.steps=2000
    genjax eval --workdir runs/edm_moons

Evaluation reports W2 (exact OT, 2000 vs 2000) to held-out moons for EDM's deterministic Heun
sampler at 18 steps, Euler at the same 35 NFE, the stochastic sampler, DDIM at 50 steps and the
adaptive probability-flow ODE, next to the W2 floor, and the PF-ODE test NLL. It is also the
teacher of ``experiments/cd_moons.py`` and the starting point of ``experiments/ect_moons.py``.
Settings shared with ``edm_8gaussians``: ``experiments/edm_common.py``.
"""

from experiments.edm_common import edm_2d_config


def get_config():
    return edm_2d_config("moons")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/edm_moons", *sys.argv[1:]]))
