"""Class-conditional DDPM on tfds MNIST with a small UNet and classifier-free guidance (GPU).

    python -c "import tensorflow_datasets as tfds; tfds.builder('mnist', file_format='array_record').download_and_prepare()"
    python -m experiments.ddpm_mnist
    genjax eval --workdir runs/ddpm_mnist

28x28x1 images dequantized to [-1, 1); 1000 linear betas, eps-prediction, simple loss; a UNet
of widths 64/128/128 with attention at 14x14. Evaluation reports the variational bound in
bits/dim (discretised decoder over the 256 levels) on the 10000 test images and a sample grid
(DDIM, 50 steps). Sized for one GPU; on CPU use it only with tiny overrides (the tests run one
step on tfds mock data).
"""

import ml_collections

from genjax.config import default_config


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "mnist"
    c.data.batch_size = 128

    c.model = ml_collections.ConfigDict()
    c.model.name = "ddpm"
    c.model.num_steps = 1000
    c.model.schedule = "linear"
    c.model.prediction = "eps"
    c.model.loss = "simple"
    c.model.variance = "large"
    c.model.net = "unet"
    c.model.channels = 64
    c.model.channel_mult = (1, 2, 2)
    c.model.num_res_blocks = 2
    c.model.attention_levels = (1,)
    c.model.conditional = True
    c.model.label_dropout = 0.1
    c.model.clip = 1.0
    c.model.sampler = "ddim@50"

    c.train.steps = 50_000
    c.train.lr = 2e-4
    c.train.schedule = "constant"
    c.train.warmup_steps = 1000
    c.train.grad_clip = 1.0
    c.train.ema_decay = 0.9999
    c.train.steps_per_dispatch = 50
    c.train.log_every = 500
    c.train.checkpoint_every = 5000

    c.eval.samplers = ("ddim@50",)
    c.eval.batch_size = 1000
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ddpm_mnist", *sys.argv[1:]]))
