"""Conditional flow matching (Lipman et al. 2023; Tong et al. 2024) as a genjax Model."""

from __future__ import annotations

from typing import Any

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genjax.distributions import StandardNormal
from genjax.flow_matching.couplings import Coupling, independent_coupling, transport_cost
from genjax.flow_matching.paths import AffinePath, LinearPath
from genjax.model import ModelBase
from genjax.ode import DIVERGENCES, ODE_SAMPLERS, PROBES, ODESolverConfig, ode_config, ode_log_prob, odeint

TIME_SAMPLING = ("uniform", "stratified")
# Up to this dimension log_prob takes the exact trace when asked for "auto".
AUTO_EXACT_MAX_DIM = 256


class DatasetSource:
    """A genjax dataset as the source distribution (data-to-data transport).

    ``sample(key, num)`` draws fresh points from a synthetic set, or ``num`` distinct training
    examples (a random subset) from a finite one; pure JAX, so it runs inside the train step.
    """

    def __init__(self, dataset):
        self.dataset = dataset
        self.event_shape = tuple(dataset.event_shape)

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        if self.dataset.is_synthetic:
            return self.dataset.sample(key, num)["x"]
        return self.dataset.train_batch(key, 0, num)["x"]


class FlowMatching(ModelBase):
    """Learns a velocity field ``v(x, t)`` whose ODE carries the source (t=0) to the data (t=1).

    Args:
      net: Linen module called as ``net(x [batch, *event], t [batch], label [batch] | None)``.
      event_shape: shape of one example.
      path: the conditional probability path (``LinearPath`` by default).
      coupling: ``(key, x0, x1) -> (x0, x1)`` pairing of source and data batches (see
        ``genjax.flow_matching.couplings``).
      source: distribution with ``sample(key, num)``; N(0, I) by default, or a
        ``DatasetSource``.
      time_sampling: "uniform" i.i.d. times, or "stratified" (one time per 1/batch stratum,
        randomly shifted: same marginal, lower-variance gradient).
      solver: default ODE solve for ``sample``.
      sigma: std of Gaussian smoothing around the path, ``x_t = alpha x1 + sigma_t x0 + sigma eps``
        with an unchanged target (the constant-width paths of I-CFM / OT-CFM in Tong et al.,
        torchcfm's ``sigma``); 0 keeps the path deterministic given its endpoints.
      num_classes: train a class-conditional field (the net must take labels, with id
        ``num_classes`` meaning "no label"); None for an unconditional one.
      label_dropout: probability of replacing a training label by the null id, which trains the
        unconditional field used by classifier-free guidance.
      guidance: default guidance weight ``w`` of ``sample``: ``v = v_null + w (v_label - v_null)``
        (w = 1 conditional, w = 0 unconditional, w > 1 guided).
      path_metrics: report path energy, straightness and NPE in ``extra_metrics``.
      eval_guidance: guidance weights at which ``extra_metrics`` reports the class-conditional W2.
      likelihood_solver: the ODE solve of ``log_prob`` (default: ``solver``).
      divergence: trace of ``log_prob``: "exact", "hutchinson" or "auto" (exact up to 256
        dimensions).
      probe: Hutchinson probe, "rademacher" or "gaussian".

    ``log_prob`` exists when the source is N(0, I) (the flow is then a CNF): the log-density of
    the unconditional field's ODE, exact up to the solver's tolerance with the exact trace.
    """

    samplers = ODE_SAMPLERS

    def __init__(
        self,
        net: nn.Module,
        event_shape: tuple[int, ...],
        *,
        path: AffinePath = LinearPath(),
        coupling: Coupling = independent_coupling,
        source: Any = None,
        time_sampling: str = "uniform",
        solver: ODESolverConfig = ODESolverConfig(),
        sigma: float = 0.0,
        num_classes: int | None = None,
        label_dropout: float = 0.0,
        guidance: float = 1.0,
        path_metrics: bool = True,
        eval_guidance: tuple[float, ...] = (),
        likelihood_solver: ODESolverConfig | None = None,
        divergence: str = "auto",
        probe: str = "rademacher",
    ):
        if time_sampling not in TIME_SAMPLING:
            raise ValueError(f"time_sampling must be one of {TIME_SAMPLING}, got {time_sampling!r}")
        if divergence not in (*DIVERGENCES, "auto"):
            raise ValueError(f"divergence must be one of {[*DIVERGENCES, 'auto']}, got {divergence!r}")
        if probe not in PROBES:
            raise ValueError(f"probe must be one of {list(PROBES)}, got {probe!r}")
        self.net = net
        self.event_shape = tuple(event_shape)
        self.path = path
        self.coupling = coupling
        self.source = source if source is not None else StandardNormal(self.event_shape)
        self.time_sampling = time_sampling
        self.solver = solver
        self.sigma = float(sigma)
        self.num_classes = num_classes
        self.label_dropout = float(label_dropout)
        self.guidance = float(guidance)
        self.path_metrics = path_metrics
        self.eval_guidance = tuple(float(w) for w in eval_guidance)
        self.likelihood_solver = likelihood_solver or solver
        if divergence == "auto":
            divergence = "exact" if math.prod(self.event_shape) <= AUTO_EXACT_MAX_DIM else "hutchinson"
        self.divergence = divergence
        self.probe = probe
        # A density needs a source density: N(0, I) (the default) has one, a dataset does not.
        if isinstance(self.source, StandardNormal):
            self.log_prob_kind = "exact" if divergence == "exact" else "estimate"
        else:
            self.log_prob_kind = None
        self._jitted: dict = {}

    # -- the field ------------------------------------------------------------------------------

    def init(self, key: jax.Array, batch: dict) -> Any:
        x = batch["x"]
        return self.net.init(key, x, jnp.zeros(x.shape[:1]), self._label(batch.get("label")))

    def _label(self, label):
        return label if self.num_classes is not None else None

    def velocity(self, params, x: jax.Array, t: jax.Array, label: jax.Array | None = None,
                 guidance: float | None = None):
        """``v(x, t)``: ``x [batch, *event]``, ``t`` scalar or ``[batch]``, ``label [batch]``.

        A conditional model with a label and a guidance weight ``w != 1`` returns the guided
        field ``v_null + w (v_label - v_null)`` (both halves in one batched call).
        """
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        label = self._label(label)
        w = self.guidance if guidance is None else float(guidance)
        if label is None or w == 1.0:
            return self.net.apply(params, x, t, label)
        null = jnp.full_like(label, self.num_classes)
        if w == 0.0:
            return self.net.apply(params, x, t, null)
        both = self.net.apply(params, jnp.concatenate([x, x]), jnp.concatenate([t, t]),
                              jnp.concatenate([label, null]))
        v_label, v_null = jnp.split(both, 2)
        return v_null + w * (v_label - v_null)

    # -- training -------------------------------------------------------------------------------

    def _times(self, key, n):
        u = jax.random.uniform(key, (n,))
        if self.time_sampling == "stratified":
            return (u[:1] + jnp.arange(n) / n) % 1.0
        return u

    def _train_label(self, key, batch):
        label = self._label(batch.get("label"))
        if label is None or self.label_dropout == 0.0:
            return label
        drop = jax.random.bernoulli(key, self.label_dropout, label.shape)
        return jnp.where(drop, self.num_classes, label)

    def loss(self, params, batch: dict, key: jax.Array):
        x1 = batch["x"]
        n = x1.shape[0]
        k_src, k_cpl, k_t = jax.random.split(key, 3)
        x0 = self.source.sample(k_src, n)
        x0, x1 = self.coupling(k_cpl, x0, x1)
        t = self._times(k_t, n)
        xt = self.path.sample(x0, x1, t)
        if self.sigma > 0.0:
            xt = xt + self.sigma * jax.random.normal(jax.random.fold_in(key, 1), xt.shape, xt.dtype)
        target = self.path.velocity(x0, x1, t)
        label = self._train_label(jax.random.fold_in(key, 2), batch)
        err = self.net.apply(params, xt, t, label) - target
        per_example = jnp.mean(jnp.reshape(err**2, (n, -1)), axis=-1)
        loss = jnp.mean(per_example)
        return loss, {"fm_loss": loss, "coupling_cost": transport_cost(x0, x1)}

    # -- sampling -------------------------------------------------------------------------------

    def _sampling_label(self, key, num, label):
        if self.num_classes is None:
            return key, None
        if label is None:  # the data's class marginal: a uniformly drawn class per sample
            key, k_label = jax.random.split(key)
            return key, jax.random.randint(k_label, (num,), 0, self.num_classes)
        return key, jnp.broadcast_to(jnp.asarray(label, jnp.int32), (num,))

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None,
                          label: jax.Array | int | None = None, guidance: float | None = None,
                          x0: jax.Array | None = None):
        """Solve the ODE from source draws; returns ``(x [num, *event], {"nfe": int})``.

        Args:
          sampler: ``"tsit5"`` (adaptive), ``"euler@4"``, ``"heun@10"``, ``"midpoint@2"`` ...
            (see ``parse_sampler``); None for the model's default solver.
          label: class ids ``[num]`` (or one int) of a conditional model; None draws them
            uniformly.
          guidance: classifier-free guidance weight (default: the model's ``guidance``).
          x0: start points ``[num, *event]`` instead of fresh source draws.
        """
        cfg = ode_config(self.parse_sampler(sampler), self.solver)
        key, label = self._sampling_label(key, num, label)
        if x0 is None:
            x0 = self.source.sample(key, num)
        x1, nfe = odeint(lambda t, x, _: self.velocity(params, x, t, label, guidance), x0, 0.0, 1.0, cfg)
        return x1, {"nfe": nfe}

    def log_prob_with_stats(self, params, x: jax.Array, key: jax.Array | None = None, *, label=None):
        """``(log p(x) [batch], {"nfe"})``: the ODE from the data (t = 1) back to the source (t = 0).

        ``log p_1(x) = log N(x_0; 0, I) + int_1^0 tr(dv/dx) dt`` (the instantaneous change of
        variables, through ``genjax.ode.ode_log_prob``); the field is the unconditional one
        (or the ``label``-conditional one of a class-conditional model).
        """
        if self.log_prob_kind is None:
            raise ValueError("log_prob needs the N(0, I) source; this model transports a dataset")
        label = None if label is None else jnp.broadcast_to(jnp.asarray(label, jnp.int32), x.shape[:1])
        logp, _, nfe = ode_log_prob(
            lambda t, y, _: self.velocity(params, y, t, label), self.source.log_prob, x, 1.0, 0.0,
            self.likelihood_solver, divergence=self.divergence, key=key, probe=self.probe,
        )
        return logp, {"nfe": nfe}

    def log_prob(self, params, x: jax.Array, key: jax.Array | None = None, **opts) -> jax.Array:
        """``log p(x)`` ``[batch]`` in nats of the flow the field defines (see ``log_prob_with_stats``)."""
        return self.log_prob_with_stats(params, x, key, **opts)[0]

    def trajectory(self, params, key: jax.Array, num: int, ts: jax.Array, *, sampler: str | None = None,
                   label=None, guidance: float | None = None) -> jax.Array:
        """States ``[len(ts), num, *event]`` of the ODE at times ``ts`` (for plots)."""
        cfg = ode_config(self.parse_sampler(sampler), self.solver)
        key, label = self._sampling_label(key, num, label)
        x0 = self.source.sample(key, num)
        ys, _ = odeint(lambda t, x, _: self.velocity(params, x, t, label, guidance), x0, 0.0, 1.0, cfg,
                       save_ts=jnp.asarray(ts))
        return ys

    # -- path statistics ------------------------------------------------------------------------

    def path_statistics(self, params, key: jax.Array, num: int, *, sampler: str | None = None,
                        label=None) -> dict:
        """Energy and straightness of the learned flow from ``num`` source draws (jittable).

        One solve of the ODE augmented with ``e' = |v(x_t, t)|^2`` gives, per trajectory, the
        path energy ``E = int_0^1 |v|^2 dt`` and, because ``int v dt = x_1 - x_0``, the
        straightness of Liu et al. (2023), ``int_0^1 |(x_1 - x_0) - v(x_t, t)|^2 dt =
        E - |x_1 - x_0|^2`` (0 exactly for straight paths traversed at constant speed).

        Returns:
          ``{"x0", "x1"}`` ``[num, *event]`` endpoints, ``"path_energy"`` and ``"straightness"``
          (means over trajectories) and ``"nfe"``.
        """
        cfg = ode_config(self.parse_sampler(sampler), self.solver)
        key, label = self._sampling_label(key, num, label)
        x0 = self.source.sample(key, num)

        def field(t, state, _):
            v = self.velocity(params, state[0], t, label)
            return v, jnp.sum(jnp.reshape(v**2, (num, -1)), axis=-1)

        (x1, energy), nfe = odeint(field, (x0, jnp.zeros((num,), x0.dtype)), 0.0, 1.0, cfg)
        chord = jnp.sum(jnp.reshape((x1 - x0) ** 2, (num, -1)), axis=-1)
        return {"x0": x0, "x1": x1, "path_energy": jnp.mean(energy),
                "straightness": jnp.mean(energy - chord), "nfe": nfe}

    def _jit(self, key, fn):
        """``jax.jit(fn)``, compiled once per ``key`` (which must name every constant ``fn`` closes over)."""
        if key not in self._jitted:
            self._jitted[key] = jax.jit(fn)
        return self._jitted[key]

    def extra_metrics(self, params, key: jax.Array, batch: dict) -> dict:
        """Path energy, straightness and normalised path energy; class-conditional W2.

        NPE (Tong et al. 2024) is ``|E - W2^2(q0, q1)| / W2^2(q0, q1)``: how far the flow's
        kinetic energy is from that of the optimal transport map, with ``W2^2`` estimated by
        exact OT between the trajectories' source points and ``batch["x"]``. The class-wise W2
        (for each ``eval_guidance`` weight) averages over classes the W2 between samples
        generated for class c and the batch's points of class c.
        """
        from genjax import metrics as gm  # host-side metrics (scipy); only for evaluation

        out: dict[str, float] = {}
        x_data = np.asarray(batch["x"]).reshape(batch["x"].shape[0], -1)
        num = x_data.shape[0]
        if self.path_metrics:
            fn = self._jit(("path", num), lambda p, k: self.path_statistics(p, k, num))
            stats = jax.device_get(fn(params, key))
            x0 = np.asarray(stats["x0"]).reshape(num, -1)
            if np.all(np.isfinite(stats["x1"])):
                w2sq = gm.w2(x0, x_data) ** 2
                out["w2sq_source_data"] = w2sq
                out["npe"] = abs(float(stats["path_energy"]) - w2sq) / w2sq
            out["path_energy"] = float(stats["path_energy"])
            out["straightness"] = float(stats["straightness"])
            out["nfe_path"] = float(stats["nfe"])
        if self.num_classes is not None and "label" in batch and self.eval_guidance:
            labels = np.asarray(batch["label"])
            for w in self.eval_guidance:
                fn = self._jit(("class", num, w), lambda p, k, lab, w=w: self.sample(p, k, num, label=lab, guidance=w))
                x = np.asarray(fn(params, jax.random.fold_in(key, 1), jnp.asarray(labels))).reshape(num, -1)
                if not np.all(np.isfinite(x)):
                    continue
                per_class = [gm.w2(x[labels == c], x_data[labels == c])
                             for c in range(self.num_classes) if np.sum(labels == c) > 1]
                out[f"w2_class/w={w:g}"] = float(np.mean(per_class))
        return out
