"""DSBM-IMF class-to-class transfer on 8x8 digits: the 1s <-> the 7s, sigma = 0.5.

    python -m experiments.dsbm_digits
    genjax eval --workdir runs/dsbm_digits
    genjax sample --workdir runs/dsbm_digits --config.sample.sampler=em:direction=backward:denoise=true
    python -m benchmarks.bridge_digits          # image pairs and a classifier's verdict on them

Source and data are the digits of one class each (``classes`` option of the data layer: 149 train
and 33 test 1s, 156 train and 23 test 7s), batch 128; a 3x256 TimeMLP per direction; four outer
iterations of 2000 steps, alternating, backward first, from the independent coupling. Evaluation
compares forward samples with the test 7s and backward samples with the test 1s (W2 in 64-d on 23
points, so read them against each other rather than absolutely) and reports the transport costs.
"""

import ml_collections

from genjax.config import default_config

SOURCE_CLASS, TARGET_CLASS = 1, 7


def get_config() -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "digits"
    c.data.options = ml_collections.ConfigDict({"classes": (TARGET_CLASS,)})
    c.data.batch_size = 128

    c.model = ml_collections.ConfigDict()
    c.model.name = "dsbm"
    c.model.net = "time_mlp"
    c.model.hidden = (256, 256, 256)
    c.model.sigma = 0.5
    c.model.steps = 20
    c.model.source = "digits"
    c.model.source_options = ml_collections.ConfigDict({"classes": (SOURCE_CLASS,)})
    c.model.method = "imf"
    c.model.inner_steps = 2000

    c.train.steps = 8000
    c.train.lr = 5e-4
    c.train.schedule = "cosine"
    c.train.ema_decay = 0.0
    c.train.steps_per_dispatch = 100
    c.train.log_every = 500
    c.train.eval_every = 2000
    c.train.checkpoint_every = 2000

    c.eval.samplers = ("default", "em:denoise=true")
    c.eval.repeats = 3
    c.eval.mmd = False
    return c


if __name__ == "__main__":
    import sys

    from genjax.cli import main

    sys.exit(main(["train", "--config", __file__, "--workdir", "runs/dsbm_digits", *sys.argv[1:]]))
