"""Continuously-indexed flow (CIF-RealNVP) on a 2-D toy set.

    python -m experiments.cif_toy                                  # 8gaussians; prints the true entropy
    python -m experiments.cif_toy --config.data.name=checkerboard  # or 2spirals, rings
    genjax train --config experiments/cif_toy.py --workdir runs/cif_rings --config.data.name=rings

The RealNVP of ``realnvp_toy`` (8 affine couplings, 2 x 128 MLPs) with a 2-D index ``u``: every
coupling's conditioner also reads ``u`` and every layer adds a u-indexed elementwise affine map;
``q(u|x)`` and ``p(u|z)`` are diagonal Gaussians from 2 x 64 MLPs. Trained on the ELBO; the test
NLL is the importance-weighted bound with 100 draws of ``u`` (a lower bound on log p, so the
reported NLL is an upper bound).
"""

from experiments.flow_common import toy_config

CIF_MODEL = {
    "name": "cif", "num_layers": 8, "hidden": (128, 128), "transform": "affine", "u_dim": 2,
    "index_hidden": (64, 64), "posterior_hidden": (64, 64), "prior_hidden": (64, 64), "eval_samples": 100,
}


def get_config():
    return toy_config(dict(CIF_MODEL))


if __name__ == "__main__":
    import sys

    from experiments.flow_common import toy_main

    sys.exit(toy_main(__file__))
