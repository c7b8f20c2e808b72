"""Denoising diffusion GAN on tfds CIFAR-10, T = 4 steps, DDGAN's CIFAR-10 recipe (GPU).

    python -c "import tensorflow_datasets as tfds; tfds.builder('cifar10', file_format='array_record').download_and_prepare()"
    python -m experiments.ddgan_cifar10
    genjax eval --workdir runs/ddgan_cifar10

As Xiao et al. (2022) train CIFAR-10: the VP process of beta 0.1 .. 20 on 4 steps, a 100-d
latent, a UNet generator of the clean image (widths 64/128/128/128, attention at 16x16, the
latent mapped by an MLP into every residual block) against a time-conditional conv critic on
``(x_t, x_{t+1})`` stacked on channels, non-saturating loss with R1 (gamma 0.02, lazy every 15
steps), Adam (0.5, 0.9) with the generator at lr 1.6e-4 and the critic at 1.25e-4 (one
optimiser each, ``train.groups``), EMA 0.9999, batch 64. Evaluation draws a sample grid in 4
generator calls. Sized for one GPU (days for the paper's FID); the tests run two steps of it,
narrowed, on tfds mock data.
"""

import ml_collections

from genjax.config import default_config


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "cifar10"
    c.data.batch_size = 64

    c.model = ml_collections.ConfigDict()
    c.model.name = "ddgan"
    c.model.num_steps = 4
    c.model.beta_min = 0.1
    c.model.beta_max = 20.0
    c.model.latent_dim = 100
    c.model.net = "unet"
    c.model.channels = 64
    c.model.channel_mult = (1, 2, 2, 2)
    c.model.num_res_blocks = 2
    c.model.attention_levels = (1,)
    c.model.disc_net = "conv"
    c.model.disc_channels = 64
    c.model.disc_channel_mult = (1, 2, 4, 4)
    c.model.loss = "non_saturating"
    c.model.r1_gamma = 0.02
    c.model.r1_every = 15

    c.train.steps = 400_000
    c.train.optimizer = "adam"
    c.train.lr = 1.6e-4
    c.train.b1 = 0.5
    c.train.b2 = 0.9
    c.train.schedule = "cosine"
    c.train.end_lr_factor = 0.0625  # to 1e-5, as DDGAN's cosine annealing
    c.train.groups = ml_collections.ConfigDict({"disc": {"lr": 1.25e-4}})
    c.train.ema_decay = 0.9999
    c.train.steps_per_dispatch = 50
    c.train.log_every = 1000
    c.train.checkpoint_every = 10_000

    c.eval.samplers = ("default",)
    c.eval.batch_size = 500
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/ddgan_cifar10", *sys.argv[1:]]))
