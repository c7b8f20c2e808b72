"""VAE on dynamically binarised tfds MNIST (Bernoulli decoder): the IWAE bound in nats (a GPU run).

    python -m experiments.vae_binarized_mnist --config.data.options.download=True
    python -m experiments.vae_binarized_mnist --config.model.objective=iwae --config.model.train_samples=50 \
        --workdir runs/iwae50_binarized_mnist
    genjax eval --workdir runs/vae_binarized_mnist

The set-up of the IWAE paper's one-stochastic-layer model (Burda et al. 2016): an MLP encoder and
decoder (2 x 200, tanh), 50 latent dimensions and a Bernoulli decoder, each training image
binarised afresh at every step (``b ~ Bernoulli(pixel intensity)``). ``log_prob`` is the K = 1000
bound on one binarisation of each test image: evaluation's ``nll`` is in nats per image (the
paper reports 86.76 for the VAE and 84.78 for IWAE-50) and its bits/dim takes no dequantization
offset (the data scored are binary).
"""

from experiments.vae_common import vae_config


def get_config():
    c = vae_config("mnist", {"name": "vae", "latent_dim": 50, "hidden": (200, 200), "activation": "tanh",
                             "likelihood": "bernoulli", "eval_samples": 1000, "eval_batch": 200},
                   steps=300_000, batch_size=100, weight_decay=0.0, num_samples=64)
    c.data.options.scale = "unit"
    c.train.update({"warmup_steps": 1000, "log_every": 1000, "eval_every": 50_000, "checkpoint_every": 10_000})
    c.eval.batch_size = 200
    return c


if __name__ == "__main__":
    import sys

    from experiments.vae_common import experiment_main

    sys.exit(experiment_main(__file__))
