"""NVAE-style hierarchical VAE on tfds MNIST: the IWAE bound in bits/dim on the 10000 test images (a GPU run).

    python -m experiments.hvae_mnist --config.data.options.download=True   # first run downloads MNIST
    genjax eval --workdir runs/hvae_mnist

Convolutional cells: a stem and two stride-2 stages (28 -> 7) with NVAE's encoder cells, five
latent groups of 7x7x8 on a shared top-down path of NVAE decoder cells (1x1 expansion,
depthwise 5x5 convolution, 1x1 projection, squeeze-and-excitation), two upsampling stages and a
discretised-logistic decoder onto the 256 levels (pixels dequantized into [-1, 1)). KL warm-up
over 10 % of training with KL balancing, spectral regularisation by power iteration. On a CPU
use tiny sizes, e.g. --config.model.width=8 --config.model.num_groups=2 --config.train.steps=10
(XLA on CPU runs convolutions inside a loop far slower than alone: keep
train.steps_per_dispatch = 1 there).
"""

from experiments.vae_common import vae_config


def get_config():
    c = vae_config("mnist", {
        "name": "hvae", "num_groups": 5, "latent_dim": 8, "width": 64, "downsample": 2, "enc_cells": 2,
        "dec_cells": 2, "expand": 3, "likelihood": "logistic", "kl_warmup_steps": 10_000, "spectral_reg": 1e-2,
        "eval_samples": 1000, "eval_chunk": 50, "eval_batch": 100,
    }, steps=100_000, batch_size=64, weight_decay=3e-4, steps_per_dispatch=10, num_samples=64)
    c.train.update({"warmup_steps": 1000, "grad_clip": 200.0, "ema_decay": 0.999, "log_every": 500,
                    "eval_every": 20_000, "checkpoint_every": 5000})
    c.eval.batch_size = 100
    return c


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
