"""EDM on tfds CIFAR-10 with a UNet (GPU): preconditioning, log-normal levels, Heun at 18 steps.

    python -c "import tensorflow_datasets as tfds; tfds.builder('cifar10', file_format='array_record').download_and_prepare()"
    python -m experiments.edm_cifar10
    genjax eval --workdir runs/edm_cifar10

32x32x3 images dequantized to [-1, 1) (``sigma_data`` 0.5, EDM's), the UNet of
``experiments/ddpm_cifar10.py`` (128/256/256/256, attention at 16x16) as EDM's F, EDM's
CIFAR-10 noise distribution (P_mean -1.2, P_std 1.2), Adam 2e-4 with EMA 0.9999 for 400k steps
of batch 128. Evaluation reports a Heun 18-step (35 NFE) sample grid and a Hutchinson estimate
of the PF-ODE bits/dim on 1000 test images. Sized for one GPU (hours to days); it is the
teacher of ``experiments/cd_cifar10.py``. The tests run two steps of it, narrowed, on tfds
mock data.
"""

import ml_collections

from genjax.config import default_config


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "cifar10"
    c.data.batch_size = 128

    c.model = ml_collections.ConfigDict()
    c.model.name = "edm"
    c.model.sigma_data = 0.5
    c.model.net = "unet"
    c.model.channels = 128
    c.model.channel_mult = (1, 2, 2, 2)
    c.model.num_res_blocks = 2
    c.model.attention_levels = (1,)
    c.model.sampler = "edm_heun@18"
    c.model.divergence = "hutchinson"  # exact traces of 3072-d Jacobians are out of reach

    c.train.steps = 400_000
    c.train.lr = 2e-4
    c.train.schedule = "constant"
    c.train.warmup_steps = 5000
    c.train.grad_clip = 1.0
    c.train.ema_decay = 0.9999
    c.train.steps_per_dispatch = 50
    c.train.log_every = 1000
    c.train.checkpoint_every = 10_000

    c.eval.samplers = ("edm_heun@18",)
    c.eval.batch_size = 250
    c.eval.max_test_examples = 1000
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/edm_cifar10", *sys.argv[1:]]))
