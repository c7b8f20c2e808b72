"""MAF on scikit-learn's 8x8 digits: bits/dim on the 300-image test split.

    python -m experiments.maf_digits
    genjax train --config experiments/maf_digits.py --workdir runs/maf_digits
    genjax eval --workdir runs/maf_digits

Five MADE-conditioned affine layers (2 x 128) with a fixed random order between them. The pixels
are dequantized ``(v + u) / 17`` in ``[0, 1)``; the flow ends with RealNVP's logit map onto that
range (``model.preprocess = "auto"``), so its density is of the data as given and bits/dim is the
dequantization bound ``(NLL + 64 log 17) / (64 log 2)``. Set-up shared with the other digits flows:
``flow_common.digits_config``.
"""

from experiments.flow_common import digits_config


def get_config():
    return digits_config({"name": "maf", "num_layers": 5, "hidden": (128, 128), "permute": "random"})


if __name__ == "__main__":
    import sys

    from experiments.flow_common import experiment_main

    sys.exit(experiment_main(__file__))
