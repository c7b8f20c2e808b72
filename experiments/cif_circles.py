"""Support mismatch: a continuously-indexed flow on data with two disconnected components.

    python -m experiments.cif_circles           # the CIF alone
    python -m benchmarks.flows_support          # the CIF and the same RealNVP without the index

``circles`` is two noisy concentric rings (radii 3 and 1.5, noise 0.24), separated by an empty
annulus. A plain flow is a homeomorphism of the plane, so the image of the connected Gaussian
base is connected: it must leave density in the gap. The index ``u`` lets a CIF route each ring
through its own region of ``u`` and leave the gap empty. Same architecture as ``cif_toy``.
"""

from experiments.cif_toy import CIF_MODEL
from experiments.flow_common import toy_config


def get_config():
    return toy_config(dict(CIF_MODEL), data="circles")


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/cif_circles", *sys.argv[1:]]))
