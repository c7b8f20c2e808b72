"""Multi-scale Glow on tfds MNIST: bits/dim on the 10000-image test split (a GPU run).

    python -m experiments.glow_mnist --config.data.options.download=True   # first run downloads MNIST
    genjax eval --workdir runs/glow_mnist

Two levels (28x28x1 -> 14x14x4 -> 7x7x8), eight Glow steps per level (ActNorm, LU 1x1 conv,
affine coupling with Glow's zero-initialised 3-layer conv net of 256 channels), half of the
channels factored out after the first level.
Pixels are dequantized into [-1, 1) and the flow ends with the logit map onto that range, so
bits/dim is the dequantization bound (8 bits/dim for a uniform model). On a CPU use tiny sizes,
e.g. --config.model.channels=8 --config.model.steps=1 --config.train.steps=10.
"""

import ml_collections

from genjax.config import default_config


def get_config():
    c = default_config()
    c.data.name = "mnist"
    c.data.batch_size = 64
    c.model = ml_collections.ConfigDict({"name": "glow", "levels": 2, "steps": 8, "channels": 256, "lu": True})
    c.train.steps = 50_000
    c.train.optimizer = "adam"
    c.train.lr = 1e-3
    c.train.warmup_steps = 1000
    c.train.grad_clip = 50.0
    c.train.ema_decay = 0.0
    c.train.steps_per_dispatch = 10
    c.train.log_every = 500
    c.train.eval_every = 10_000
    c.train.checkpoint_every = 5000
    c.eval.batch_size = 500
    c.eval.num_samples = 64
    c.eval.repeats = 1
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/glow_mnist", *sys.argv[1:]]))
