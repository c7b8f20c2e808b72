"""Class-conditional DDPM on tfds CIFAR-10 with a UNet and classifier-free guidance (GPU).

    python -c "import tensorflow_datasets as tfds; tfds.builder('cifar10', file_format='array_record').download_and_prepare()"
    python -m experiments.ddpm_cifar10
    genjax eval --workdir runs/ddpm_cifar10

experiments/ddpm_mnist.py on 32x32x3 images, closer to DDPM's CIFAR-10 recipe (Ho et al.
2020): a wider UNet (128/256/256/256, attention at 16x16), EMA 0.9999, 400k steps with a 5000
step warmup. Evaluation reports the variational bound in bits/dim (discretised decoder, 256
levels) on the test set and a DDIM sample grid. Sized for one GPU (hours); the tests run one
step of it, narrowed, on tfds mock data.
"""

import pathlib

import ml_collections

from genjax.config import load_config_file


def get_config() -> ml_collections.ConfigDict:
    c = load_config_file(pathlib.Path(__file__).with_name("ddpm_mnist.py"))
    c.data.name = "cifar10"
    c.model.channels = 128
    c.model.channel_mult = (1, 2, 2, 2)
    c.train.steps = 400_000
    c.train.warmup_steps = 5000
    c.train.log_every = 1000
    c.train.checkpoint_every = 10_000
    c.eval.batch_size = 500
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ddpm_cifar10", *sys.argv[1:]]))
