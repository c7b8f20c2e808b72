"""Multi-scale RealNVP on tfds MNIST: bits/dim on the 10000-image test split (a GPU run).

    python -m experiments.realnvp_mnist --config.data.options.download=True   # first run downloads MNIST
    genjax eval --workdir runs/realnvp_mnist

Two levels; per level two pairs of checkerboard couplings, a squeeze, two pairs of
channel couplings (each coupling a ResNet of four blocks at 128 channels, followed by ActNorm),
half of the channels factored out after the first level.
Pixels are dequantized into [-1, 1) and the flow ends with the logit map onto that range, so
bits/dim is the dequantization bound (8 bits/dim for a uniform model). On a CPU use tiny sizes,
e.g. --config.model.channels=8 --config.model.steps_per_level=1 --config.train.steps=10.
"""

from experiments.flow_common import mnist_config


def get_config():
    return mnist_config({"name": "realnvp", "levels": 2, "steps_per_level": 2, "channels": 128, "net": "resnet", "num_blocks": 4})


if __name__ == "__main__":
    import sys

    from experiments.flow_common import experiment_main

    sys.exit(experiment_main(__file__))
