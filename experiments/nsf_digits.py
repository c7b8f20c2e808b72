"""Neural spline flow on scikit-learn's 8x8 digits: bits/dim on the 300-image test split.

    python -m experiments.nsf_digits
    genjax train --config experiments/nsf_digits.py --workdir runs/nsf_digits
    genjax eval --workdir runs/nsf_digits

Four rational-quadratic spline couplings (8 bins on [-5, 5]) with a fixed random permutation
between them (2 x 64 MLPs). The pixels are dequantized ``(v + u) / 17`` in ``[0, 1)``; the flow
ends with RealNVP's logit map onto that range (``model.preprocess = "auto"``), so its density is of
the data as given and bits/dim is the dequantization bound ``(NLL + 64 log 17) / (64 log 2)``. Set-
up shared with the other digits flows: ``flow_common.digits_config``.
"""

from experiments.flow_common import digits_config


def get_config():
    return digits_config(
        {"name": "nsf", "num_layers": 4, "hidden": (64, 64), "num_bins": 8, "bound": 5.0,
         "permute": "random"}
    )


if __name__ == "__main__":
    import sys

    from experiments.flow_common import experiment_main

    sys.exit(experiment_main(__file__))
