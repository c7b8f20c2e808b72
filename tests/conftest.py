"""Shared fixtures: tiny configs that compile and train in seconds on two CPU cores."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ml_collections
import pytest

from genjax.config import default_config


def tiny_fm_config(**train) -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = "moons"
    c.data.batch_size = 64
    c.model = ml_collections.ConfigDict(
        {"name": "flow_matching", "hidden": (32, 32), "time_dim": 16, "ode": {"solver": "euler", "steps": 2}}
    )
    c.train.steps = 20
    c.train.lr = 1e-3
    c.train.log_every = 5
    c.train.checkpoint_every = 10
    c.train.progress = False
    c.train.plot = False
    c.eval.num_samples = 200
    c.eval.repeats = 1
    c.eval.max_test_examples = 100  # held-out NLL on 100 points: the tests check it runs, not its value
    c.eval.mmd = False
    for k, v in train.items():
        c.train[k] = v
    return c


@pytest.fixture
def tiny_config():
    return tiny_fm_config
