"""Shared by the bridge experiments (not an experiment): ``experiments/{dsbm,sbcfm}_*.py``.

- ``gaussian_config``: the DSBM paper's Gaussian benchmark, ``N(-0.1 * 1, I) -> N(0.1 * 1, I)``
  in ``d`` dimensions (``--config.data.options.dim=20``), ``sigma = 1``, ``N = 20``
  Euler-Maruyama steps; the Schrödinger bridge's coupling has ``Cov(X0_i, X1_i) =
  (sqrt(5) - 1) / 2 = 0.618`` in every coordinate.
- ``moons_config``: 8gaussians -> moons (data to data), torchcfm's 2-D net.
- ``noise_config``: SB-CFM from N(0, I) to a data set (generation; the leaderboard entries).

DSBM runs ``outer`` outer iterations of ``inner_steps`` steps, each ending on the average of its
last ~200 steps (``model.average_decay = 0.995``), and is evaluated after each
(``train.eval_every = model.inner_steps``); the one-shot baselines (SB-CFM, and bridge matching
with ``sigma = 0`` and the independent coupling: rectified flow) train for as many steps. Adam
at 1e-3 with a cosine decay over the run, batch 256, no EMA.
"""

from __future__ import annotations

import ml_collections

from genjax.config import default_config

GAUSSIAN_MEAN = 0.1


def _base(method: str, *, data: str, source: str, sigma: float, inner_steps: int, outer: int,
          hidden: tuple[int, ...]) -> ml_collections.ConfigDict:
    c = default_config()
    c.data.name = data
    c.data.batch_size = 256

    c.model = ml_collections.ConfigDict()
    c.model.name = "bridge_matching" if method == "rf" else method
    c.model.net = "concat_mlp"
    c.model.hidden = hidden
    c.model.activation = "selu"
    c.model.sigma = 0.0 if method == "rf" else sigma
    c.model.steps = 20
    c.model.source = source
    if method == "rf":
        c.model.coupling = "independent"
    if method == "sbcfm":
        # Log-domain Sinkhorn on 256-point batches: at sigma = 1 (epsilon = 2) the plan has converged
        # to 1e-6 in L1 after 50 iterations; at sigma = 0.3 (epsilon = 0.18) 200 leave 0.004.
        c.model.sinkhorn_iters = 50 if sigma >= 1.0 else 200
    if method == "dsbm":
        c.model.method = "imf"
        c.model.inner_steps = inner_steps
        c.model.average_decay = 0.995
        c.train.eval_every = inner_steps

    c.train.steps = inner_steps * outer
    c.train.lr = 1e-3
    c.train.schedule = "cosine"
    c.train.ema_decay = 0.0
    c.train.steps_per_dispatch = 250
    c.train.log_every = 500
    c.train.checkpoint_every = inner_steps

    c.eval.samplers = ("default",)
    c.eval.repeats = 3
    c.eval.mmd = False
    return c


def gaussian_config(method: str = "dsbm", dim: int = 5, *, inner_steps: int = 2000, outer: int = 4,
                    hidden: tuple[int, ...] = (128, 128, 128)) -> ml_collections.ConfigDict:
    """``method``: "dsbm", "sbcfm" or "rf" (bridge matching at sigma = 0, independent coupling)."""
    c = _base(method, data="normal", source="gaussian", sigma=1.0, inner_steps=inner_steps, outer=outer,
              hidden=hidden)
    c.data.options = ml_collections.ConfigDict({"dim": dim, "mean": GAUSSIAN_MEAN})
    c.model.source_mean = -GAUSSIAN_MEAN
    return c


def moons_config(method: str = "dsbm", sigma: float = 1.0, *, inner_steps: int = 2500, outer: int = 4,
                 hidden: tuple[int, ...] = (64, 64, 64)) -> ml_collections.ConfigDict:
    """8gaussians -> moons; ``method`` as for ``gaussian_config``."""
    return _base(method, data="moons", source="8gaussians", sigma=sigma, inner_steps=inner_steps, outer=outer,
                 hidden=hidden)


def noise_config(data: str, sigma: float, *, steps: int = 10_000, hidden: tuple[int, ...] = (64, 64, 64),
                 net: str = "concat_mlp") -> ml_collections.ConfigDict:
    """SB-CFM from ``N(0, I)`` to the data set ``data`` (generation, as the other families do it)."""
    c = _base("sbcfm", data=data, source="gaussian", sigma=sigma, inner_steps=steps, outer=1, hidden=hidden)
    c.model.net = net
    if net == "time_mlp":
        del c.model.activation  # TimeMLP's default (silu); selu is the concat MLP's
    c.train.checkpoint_every = steps // 2
    return c
