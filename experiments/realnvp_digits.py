"""RealNVP on scikit-learn's 8x8 digits: bits/dim on the 300-image test split.

    python -m experiments.realnvp_digits
    genjax train --config experiments/realnvp_digits.py --workdir runs/realnvp_digits
    genjax eval --workdir runs/realnvp_digits

Six affine couplings on half-split masks with a fixed random permutation and ActNorm between them
(2 x 128 MLPs). The pixels are dequantized ``(v + u) / 17`` in ``[0, 1)``; the flow ends with
RealNVP's logit map onto that range (``model.preprocess = "auto"``), so its density is of the data
as given and bits/dim is the dequantization bound ``(NLL + 64 log 17) / (64 log 2)``. Set-up shared
with the other digits flows: ``flow_common.digits_config``.
"""

from experiments.flow_common import digits_config


def get_config():
    return digits_config(
        {"name": "realnvp", "num_layers": 6, "hidden": (128, 128), "permute": "random",
         "actnorm": True}
    )


if __name__ == "__main__":
    import sys

    from experiments.flow_common import experiment_main

    sys.exit(experiment_main(__file__))
