"""RealNVP on scikit-learn's 8x8 digits: bits/dim on the 300-image test split.

    python -m experiments.realnvp_digits
    genjax train --config experiments/realnvp_digits.py --workdir runs/realnvp_digits
    genjax eval --workdir runs/realnvp_digits

Six affine couplings on half-split masks with a fixed random permutation and ActNorm between
them (2 x 128 MLPs). The pixels are dequantized ``(v + u) / 17`` in ``[0, 1)``; the flow ends with RealNVP's
logit map onto that range (``model.preprocess = "auto"``), so its density is of the data as
given and bits/dim is the dequantization bound ``(NLL + 64 log 17) / (64 log 2)``. 1497
training images: larger or longer-trained flows overfit (test bits/dim rises after ~500
steps at 10 x 256), so the model is small, weight-decayed and trained briefly.
"""

import ml_collections

from genjax.config import default_config


def get_config():
    c = default_config()
    c.data.name = "digits"
    c.data.batch_size = 128
    c.model = ml_collections.ConfigDict({"name": "realnvp", "num_layers": 6, "hidden": (128, 128), "permute": "random", "actnorm": True})
    c.train.steps = 1500
    c.train.optimizer = "adamw"
    c.train.weight_decay = 1e-3
    c.train.lr = 1e-3
    c.train.warmup_steps = 100
    c.train.grad_clip = 1.0
    c.train.ema_decay = 0.0
    c.train.steps_per_dispatch = 100
    c.train.log_every = 500
    c.train.checkpoint_every = 1000
    c.eval.num_samples = 300
    c.eval.repeats = 1
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/realnvp_digits", *sys.argv[1:]]))
