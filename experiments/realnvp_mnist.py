"""Multi-scale RealNVP on tfds MNIST: bits/dim on the 10000-image test split (a GPU run).

    python -m experiments.realnvp_mnist --config.data.options.download=True   # first run downloads MNIST
    genjax eval --workdir runs/realnvp_mnist

Two levels; per level two pairs of checkerboard couplings, a squeeze, two pairs of
channel couplings (each coupling a ResNet of four blocks at 128 channels, followed by ActNorm),
half of the channels factored out after the first level.
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
    c.model = ml_collections.ConfigDict({"name": "realnvp", "levels": 2, "steps": 2, "channels": 128, "net": "resnet", "num_blocks": 4})
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

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/realnvp_mnist", *sys.argv[1:]]))
