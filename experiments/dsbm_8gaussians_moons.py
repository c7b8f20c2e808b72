"""DSBM-IMF between two data sets: 8gaussians <-> moons, sigma = 1 (Schrödinger bridge, both directions).

    python -m experiments.dsbm_8gaussians_moons
    python -m experiments.dsbm_8gaussians_moons --config.model.sigma=0.3 --workdir runs/dsbm_8gaussians_moons_s0.3
    genjax eval --workdir runs/dsbm_8gaussians_moons
    genjax sample --workdir runs/dsbm_8gaussians_moons --config.sample.sampler=em:direction=backward

Four outer iterations of 2500 steps (alternating, backward first, from the independent coupling),
torchcfm's 2-D net for each direction. Evaluation: W2 of forward samples to held-out moons
(``w2/default``, with the floor) and of backward samples to held-out 8gaussians
(``backward/w2``, ``backward/w2_floor``), and the transport cost of the generated pairs
(``forward/cost``, ``backward/cost``) against exact OT, the independent coupling and entropic OT
at 2 sigma^2 on the same held-out points (``cost/*``). Settings: `experiments/bridge_common.py`;
`python -m benchmarks.bridge_moons` runs it with SB-CFM at two sigmas.
"""

from experiments.bridge_common import moons_config


def get_config():
    return moons_config("dsbm", 1.0)


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/dsbm_8gaussians_moons", *sys.argv[1:]]))
