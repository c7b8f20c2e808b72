"""Multi-scale Glow on tfds MNIST: bits/dim on the 10000-image test split (a GPU run).

    python -m experiments.glow_mnist --config.data.options.download=True   # first run downloads MNIST
    genjax eval --workdir runs/glow_mnist

Two levels (28x28x1 -> 14x14x4 -> 7x7x8), eight Glow steps per level (ActNorm, LU 1x1 conv,
affine coupling with Glow's zero-initialised 3-layer conv net of 256 channels), half of the
channels factored out after the first level.
Pixels are dequantized into [-1, 1) and the flow ends with the logit map onto that range, so
bits/dim is the dequantization bound (8 bits/dim for a uniform model). On a CPU use tiny sizes,
e.g. --config.model.channels=8 --config.model.steps_per_level=1 --config.train.steps=10.
"""

from experiments.flow_common import mnist_config


def get_config():
    return mnist_config({"name": "glow", "levels": 2, "steps_per_level": 8, "channels": 256, "lu": True})


if __name__ == "__main__":
    import sys

    from experiments.flow_common import experiment_main

    sys.exit(experiment_main(__file__))
