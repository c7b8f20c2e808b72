"""Schrödinger-bridge models: bridge matching (SB-CFM with the entropic coupling) and DSBM.

Both learn two drifts on ``[0, 1]`` under the reference ``dX = sigma dW``: a forward drift
``b(x, t)`` whose SDE ``dX = b dt + sigma dW`` carries the source (t = 0) to the data (t = 1),
and a backward drift ``b^-(x, t)`` whose time-reversed SDE ``X_{t-h} = X_t + h b^- + sigma dW``
carries the data back to the source. Their half-difference is the probability-flow ODE
velocity ``(b - b^-) / 2`` (``b + b^- = sigma^2 grad log p_t``), which has the same marginals.

- ``BridgeMatching``: one coupling, fixed for the whole run (independent, exact OT, the
  Schrödinger coupling = entropic OT at ``2 sigma^2``, fixed pairs). On the Schrödinger coupling
  it is SB-CFM (Tong et al. 2024); with ``sigma = 0`` and the independent coupling it is
  rectified flow.
- ``DSBM``: iterative Markovian fitting (Shi et al. 2023). Each outer iteration trains on pairs
  made by simulating the previous iteration's model; see the class for how the outer loop lives
  inside the pure train step.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genjax.bridge.couplings import schrodinger_coupling
from genjax.bridge.matching import DIRECTIONS, bridge_matching_loss, sample_times
from genjax.flow_matching import independent_coupling, sinkhorn_log_plan, squared_distances, transport_cost
from genjax.model import ModelBase, Update
from genjax.ode import ODE_SAMPLERS, SOLVERS, ODESolverConfig, SamplerKind, SamplerTable, ode_config, odeint, sdeint

_DIRECTION = {"direction": str}
BRIDGE_SAMPLERS = SamplerTable(
    {
        "em": SamplerKind(options={**_DIRECTION, "denoise": bool},
                          doc="em[@steps][:direction=forward|backward][:denoise=true]: Euler-Maruyama on the learned "
                              "SDE (default: model.steps steps, forward from the source; denoise: the last step "
                              "without noise)"),
        **{name: SamplerKind(options={**ODE_SAMPLERS[name].options, **_DIRECTION},
                             doc=f"{ODE_SAMPLERS[name].doc}, of the probability-flow ODE (b - b^-) / 2")
           for name in SOLVERS},
    },
    default=SamplerKind(steps="none", doc="Euler-Maruyama on model.steps steps, forward"),
)
SCHEDULES = ("alternate", "bidirectional")


def _tree_where(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def endpoint_moments(x0: np.ndarray, x1: np.ndarray, generated: str) -> dict[str, float]:
    """Moments of a generated end and of the coupling, averaged over coordinates.

    Args:
      x0, x1: ``[n, *event]`` coupled points; one of them generated from the other.
      generated: "x1" (forward samples) or "x0" (backward samples).

    Returns:
      ``mean`` (of the generated end, over points and coordinates) and ``mean_stderr`` (its
      standard error for independent coordinates), ``var`` (per-coordinate variance, averaged) and
      ``coupling_cov`` (per-coordinate ``Cov(X0_i, X1_i)``, averaged): the numbers of the DSBM
      paper's Gaussian benchmark, whose optimum is the closed-form bridge's.
    """
    a = np.asarray(x0, np.float64).reshape(x0.shape[0], -1)
    b = np.asarray(x1, np.float64).reshape(x1.shape[0], -1)
    gen = b if generated == "x1" else a
    n = a.shape[0]
    cross = np.sum((a - a.mean(0)) * (b - b.mean(0)), axis=0) / (n - 1)
    return {"mean": float(gen.mean()), "mean_stderr": float(gen.std() / np.sqrt(gen.size)),
            "var": float(gen.var(0, ddof=1).mean()), "coupling_cov": float(cross.mean())}


class BridgeBase(ModelBase):
    """What bridge models share: the two drift nets, their SDE and ODE, sampling, evaluation.

    Params hold ``"forward"`` and ``"backward"`` (the two nets' parameters; DSBM adds more).

    Args:
      net: Linen module ``net(x [batch, *event], t [batch]) -> [batch, *event]``, instantiated
        once for each direction.
      event_shape: shape of one point.
      sigma: the reference's noise level (``>= 0``; 0 gives deterministic straight bridges).
      source: the t = 0 end (``DatasetEndpoint`` or ``GaussianEndpoint``).
      target: the t = 1 end, where the data is (backward samples start from it).
      steps: Euler-Maruyama steps of the default sampler (and of DSBM's simulations).
      t_eps: the forward drift is fitted on times uniform on ``[0, 1 - t_eps]``, the backward
        one on ``[t_eps, 1]`` (each target's variance diverges at one end; see
        ``genjax.bridge.matching``).
      ode: the default solve of the ODE samplers.
      metric_draws: generated sets the backward W2 of ``extra_metrics`` is averaged over.
    """

    samplers = BRIDGE_SAMPLERS
    log_prob_kind = None

    def __init__(
        self,
        net: nn.Module,
        event_shape: tuple[int, ...],
        *,
        sigma: float,
        source: Any,
        target: Any,
        steps: int = 20,
        t_eps: float = 1e-3,
        ode: ODESolverConfig = ODESolverConfig("tsit5", rtol=1e-5, atol=1e-5),
        metric_draws: int = 3,
    ):
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        if not 0 < t_eps < 1:
            raise ValueError(f"t_eps must be in (0, 1), got {t_eps}")
        self.net = net
        self.event_shape = tuple(event_shape)
        self.sigma = float(sigma)
        self.source = source
        self.target = target
        self.steps = int(steps)
        self.t_eps = float(t_eps)
        self.ode = ode
        self.metric_draws = int(metric_draws)
        self._jitted: dict = {}

    # -- the drifts -----------------------------------------------------------------------------

    def _init_nets(self, key: jax.Array, batch: dict) -> dict:
        x = batch["x"]
        t = jnp.zeros(x.shape[:1], x.dtype)
        k_fwd, k_bwd = jax.random.split(key)
        return {"forward": self.net.init(k_fwd, x, t), "backward": self.net.init(k_bwd, x, t)}

    def init(self, key: jax.Array, batch: dict) -> Any:
        return self._init_nets(key, batch)

    def drift(self, net_params, x: jax.Array, t) -> jax.Array:
        """One direction's drift at ``x [batch, *event]``, ``t`` scalar or ``[batch]``."""
        return self.net.apply(net_params, x, jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1]))

    def pf_velocity(self, params, x: jax.Array, t) -> jax.Array:
        """The probability-flow ODE velocity ``(b - b^-) / 2`` at ``x [batch, *event]``."""
        return 0.5 * (self.drift(params["forward"], x, t) - self.drift(params["backward"], x, t))

    def matching_loss(self, net_params, x0: jax.Array, x1: jax.Array, key: jax.Array, direction: str) -> jax.Array:
        """Bridge-matching loss (mean over the batch) of one direction's net on pairs ``(x0, x1)``."""
        k_t, k_noise = jax.random.split(key)
        t = sample_times(k_t, x0.shape[0], self.t_eps, direction)
        noise = jax.random.normal(k_noise, x0.shape, x0.dtype)
        per_example = bridge_matching_loss(lambda x, s: self.drift(net_params, x, s), x0, x1, t, noise,
                                           self.sigma, direction)
        return jnp.mean(per_example)

    def simulate(self, params, key: jax.Array, x: jax.Array, direction: str, *, steps: int | None = None,
                 save_path: bool = False, denoise: bool = False) -> tuple[jax.Array, jax.Array]:
        """Euler-Maruyama of the learned SDE from ``x`` at t = 0 ("forward") or t = 1 ("backward").

        ``denoise`` takes the last step without noise (the mean of the last transition; the law of
        the SDE's end has ``sigma^2 / steps`` more variance per coordinate).

        Returns:
          ``(end points [batch, *event]`` (or the path ``[steps + 1, batch, *event]``), ``nfe)``.
        """
        n = self.steps if steps is None else int(steps)
        if direction == "forward":
            ts, net_params, sign = jnp.linspace(0.0, 1.0, n + 1), params["forward"], 1.0
        elif direction == "backward":
            # On a decreasing grid sdeint's dt is negative: the drift -b^- moves X by +h b^-.
            ts, net_params, sign = jnp.linspace(1.0, 0.0, n + 1), params["backward"], -1.0
        else:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        return sdeint(lambda t, y, _: sign * self.drift(net_params, y, t), lambda t, y, _: self.sigma,
                      x, ts.astype(x.dtype), key, save_path=save_path, noise_last=not denoise)

    # -- sampling -------------------------------------------------------------------------------

    def sample_with_stats(self, params, key: jax.Array, num: int, *, sampler: str | None = None,
                          direction: str | None = None, x_start: jax.Array | None = None):
        """Generate by the learned SDE (``em``) or the probability-flow ODE (an ODE solver name).

        Args:
          sampler: ``"em@20"``, ``"em:direction=backward"``, ``"em:denoise=true"``, ``"tsit5"``,
            ``"heun@10"``, ...;
            None or "default" is Euler-Maruyama on ``model.steps`` steps, forward.
          direction: "forward" (source -> data; overrides the spec's ``direction``) or "backward"
            (data -> source).
          x_start: start points ``[num, *event]`` (source points forward, data points backward);
            None draws them from the model's endpoint.

        Returns:
          ``(x [num, *event], {"nfe"})``.
        """
        spec = self.parse_sampler(sampler)
        direction = direction or spec.get("direction", "forward")
        if direction not in DIRECTIONS:
            raise ValueError(f"sampler {str(spec)!r}: direction must be one of {DIRECTIONS}, got {direction!r}")
        k_start, key = jax.random.split(key)
        if x_start is None:
            x_start = (self.source if direction == "forward" else self.target).sample(k_start, num)
        if spec.is_default or spec.name == "em":
            x, nfe = self.simulate(params, key, x_start, direction, steps=spec.steps,
                                   denoise=spec.get("denoise", False))
        else:
            t0, t1 = (0.0, 1.0) if direction == "forward" else (1.0, 0.0)
            x, nfe = odeint(lambda t, y, _: self.pf_velocity(params, y, t), x_start, t0, t1,
                            ode_config(spec, self.ode))
        return x, {"nfe": nfe}

    # -- evaluation -----------------------------------------------------------------------------

    def generate_ends(self, params, key: jax.Array, x0: jax.Array, x1: jax.Array, *,
                      steps: int | None = None) -> tuple[jax.Array, jax.Array]:
        """``(forward SDE's end from x0, backward SDE's end from x1)``, both ``[n, *event]`` (jittable),
        by Euler-Maruyama on ``steps`` steps (default ``model.steps``)."""
        return (self.simulate(params, jax.random.fold_in(key, 0), x0, "forward", steps=steps)[0],
                self.simulate(params, jax.random.fold_in(key, 1), x1, "backward", steps=steps)[0])

    def _jit(self, key, fn):
        if key not in self._jitted:
            self._jitted[key] = jax.jit(fn)
        return self._jitted[key]

    def extra_metrics(self, params, key: jax.Array, batch: dict) -> dict:
        """Both endpoints and the coupling the learned SDE makes, from held-out points.

        ``batch["x"]`` (held-out data) is carried back to the source by the backward SDE and as
        many held-out source points forward by the forward SDE (``model.steps`` Euler-Maruyama
        steps). Reported:

        - ``backward/w2``: W2 (exact OT) of the backward samples to the held-out source points,
          mean over ``metric_draws`` draws (``backward/w2_stderr``), with ``backward/w2_floor``,
          the W2 between two draws of the source itself (synthetic sources only). The forward
          end's W2 is the evaluation's own ``w2/<sampler>``.
        - ``{forward,backward}/cost``: the transport cost ``E |X0 - X1|^2`` of the generated pairs,
          against ``cost/exact_ot`` (W2^2 between the held-out sets, exact OT),
          ``cost/independent`` (their independent pairing) and ``cost/entropic`` (the
          entropic-OT plan at ``epsilon = 2 sigma^2`` between them, the Schrödinger bridge's static
          coupling on these points).
        - ``{forward,backward}/{mean,var,coupling_cov}``: the generated end's mean and variance and
          ``Cov(X0, X1)``, each averaged over coordinates (the Gaussian benchmark's numbers).
        """
        from genjax import metrics as gm  # host-side metrics (scipy); only for evaluation

        x1 = jnp.asarray(batch["x"])
        x0 = jnp.asarray(self.source.held_out(x1.shape[0]))
        m = min(x0.shape[0], x1.shape[0])
        x0, x1 = x0[:m], x1[:m]
        fn = self._jit(("ends", m), self.generate_ends)
        flat = lambda a: np.asarray(a, np.float64).reshape(m, -1)  # noqa: E731
        a0, a1 = flat(x0), flat(x1)
        out: dict[str, float] = {}
        w2s, floors = [], []
        for r in range(self.metric_draws):
            gen1, gen0 = (flat(v) for v in fn(params, jax.random.fold_in(key, r), x0, x1))
            if not (np.all(np.isfinite(gen0)) and np.all(np.isfinite(gen1))):
                return out
            w2s.append(gm.w2(gen0, a0))
            fresh = self.source.fresh(jax.random.fold_in(jax.random.fold_in(key, 1000), r), m)
            if fresh is not None:
                floors.append(gm.w2(flat(fresh), a0))
            if r == 0:
                for name, g0, g1 in (("forward", a0, gen1), ("backward", gen0, a1)):
                    out[f"{name}/cost"] = float(np.mean(np.sum((g0 - g1) ** 2, axis=-1)))
                    moments = endpoint_moments(g0, g1, "x1" if name == "forward" else "x0")
                    out.update({f"{name}/{k}": moments[k] for k in ("mean", "var", "coupling_cov")})
        out["backward/w2"] = float(np.mean(w2s))
        if len(w2s) > 1:
            out["backward/w2_stderr"] = float(np.std(w2s, ddof=1) / np.sqrt(len(w2s)))
        if floors:
            out["backward/w2_floor"] = float(np.mean(floors))
        out["cost/exact_ot"] = gm.w2(a0, a1) ** 2
        out["cost/independent"] = float(np.mean(np.sum((a0 - a1) ** 2, axis=-1)))
        if self.sigma > 0:
            cost = squared_distances(x0.astype(jnp.float32), x1.astype(jnp.float32))
            plan = jnp.exp(self._jit(("plan", m), lambda c: sinkhorn_log_plan(c, 2.0 * self.sigma**2, 1000))(cost))
            out["cost/entropic"] = float(jnp.sum(plan * cost))
        return out


class BridgeMatching(BridgeBase):
    """Bridge matching on one coupling: both drifts fitted to Brownian bridges between its pairs.

    Args (besides ``BridgeBase``'s):
      coupling: ``(key, x0, x1) -> (x0, x1)``; default the Schrödinger coupling (entropic OT at
        ``2 sigma^2``, i.e. SB-CFM), or flow matching's ``independent_coupling``,
        ``ExactOTCoupling``, ``PairsCoupling``.
    """

    def __init__(self, net, event_shape, *, coupling=None, **kwargs):
        super().__init__(net, event_shape, **kwargs)
        if coupling is None:
            coupling = schrodinger_coupling(self.sigma) if self.sigma > 0 else independent_coupling
        self.coupling = coupling

    def loss(self, params, batch: dict, key: jax.Array):
        x1 = batch["x"]
        k_src, k_cpl, k_fwd, k_bwd = jax.random.split(key, 4)
        x0 = self.source.sample(k_src, x1.shape[0])
        x0, x1 = self.coupling(k_cpl, x0, x1)
        fwd = self.matching_loss(params["forward"], x0, x1, k_fwd, "forward")
        bwd = self.matching_loss(params["backward"], x0, x1, k_bwd, "backward")
        return fwd + bwd, {"forward_loss": fwd, "backward_loss": bwd, "coupling_cost": transport_cost(x0, x1)}


class DSBM(BridgeBase):
    """Diffusion Schrödinger bridge matching by iterative Markovian fitting (Shi et al. 2023).

    Outer iteration ``k`` fits drifts by bridge matching on a coupling: for ``k = 0`` the
    initial one (the independent coupling, or any other: DSBM-IMF; the reference process
    ``(x0, x0 + sigma Z)``: DSBM-IPF), afterwards the pairs the previous iteration's model makes
    by Euler-Maruyama on ``steps`` steps: the forward net is fitted on ``(X0, x1)`` with ``X0``
    the backward SDE's end from a data point ``x1``, the backward net on ``(x0, X1)`` from the
    forward SDE started at a source point ``x0``. ``schedule = "alternate"`` trains one direction
    per iteration, ``first`` ("backward", as the reference implementation, or "forward") at
    ``k = 0`` and the other next; ``"bidirectional"`` trains both in every iteration, each on the
    other's pairs.

    The outer loop is a function of the step, inside the pure train step:

    - ``k = step // inner_steps``. The nets are two parameter groups, ``forward`` and
      ``backward``, each with its optimiser and an ``Update`` in ``update_plan``; a third group,
      ``snapshot``, holds both nets as they were when iteration ``k`` began, and makes the pairs.
    - Fresh pairs are simulated from the snapshot in every step (the batch's data points and
      fresh source points), like the reference implementation's re-simulated epochs, so nothing
      but the parameters is carried between steps.
    - ``after_update`` copies the nets into the snapshot at each iteration's last step and, when
      alternating, resets the direction that is not being trained to its snapshot (its zero
      gradients would otherwise still move it by the optimiser's momentum); the inactive
      direction's loss is skipped by ``lax.cond``, so it costs nothing.
    - With ``average_decay > 0`` a fourth group, ``average``, holds an exponential moving average
      of the nets restarted at every iteration's first step, and the iteration ends on it: the
      nets (and so the snapshot and the next iteration's pairs) become the average of their last
      ``~1 / (1 - average_decay)`` steps. Iterate averaging removes most of the optimiser's noise
      from each iteration's result, which a learning-rate schedule over the whole run cannot do
      for the iterations before the last.

    A run killed at any step resumes to the same result: the state is params (with the
    snapshot), optimiser states and the step, like any model's. ``train.steps = K * inner_steps``
    runs ``K`` outer iterations; ``train.eval_every = inner_steps`` evaluates after each.

    Args (besides ``BridgeBase``'s):
      inner_steps: training steps per outer iteration.
      initial_coupling: the coupling of iteration 0 (``ReferenceCoupling(sigma)`` for IPF).
      schedule: "alternate" or "bidirectional".
      first: the direction trained first when alternating.
      average_decay: decay of the per-iteration average the iterations end on (0: none).
    """

    def __init__(self, net, event_shape, *, inner_steps: int, initial_coupling=independent_coupling,
                 schedule: str = "alternate", first: str = "backward", average_decay: float = 0.0, **kwargs):
        super().__init__(net, event_shape, **kwargs)
        if inner_steps < 1:
            raise ValueError(f"inner_steps must be >= 1, got {inner_steps}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if first not in DIRECTIONS:
            raise ValueError(f"first must be one of {DIRECTIONS}, got {first!r}")
        self.inner_steps = int(inner_steps)
        self.initial_coupling = initial_coupling
        if not 0 <= average_decay < 1:
            raise ValueError(f"average_decay must be in [0, 1), got {average_decay}")
        self.schedule = schedule
        self.first = first
        self.average_decay = float(average_decay)
        self.update_plan = (Update("forward", "forward_loss"), Update("backward", "backward_loss"))

    def init(self, key: jax.Array, batch: dict) -> Any:
        nets = self._init_nets(key, batch)
        params = {**nets, "snapshot": nets}
        if self.average_decay:
            params["average"] = nets
        return params

    def iteration(self, step) -> jax.Array:
        """The outer iteration of a step (steps done before it): ``step // inner_steps``."""
        return jnp.asarray(step, jnp.int32) // self.inner_steps

    def trains(self, direction: str, k) -> jax.Array:
        """Whether ``direction`` is fitted in outer iteration ``k`` (a bool array)."""
        if self.schedule == "bidirectional":
            return jnp.asarray(True)
        parity = 0 if direction == self.first else 1
        return jnp.asarray(k) % 2 == parity

    def pairs(self, params, batch: dict, key: jax.Array, k, direction: str) -> tuple[jax.Array, jax.Array]:
        """The coupled ``(x0, x1)`` ``direction`` is fitted on in iteration ``k``."""
        x1 = batch["x"]
        k_src, k_cpl, k_sim = jax.random.split(key, 3)
        x0 = self.source.sample(k_src, x1.shape[0])
        snapshot = params["snapshot"]

        def initial():
            return self.initial_coupling(k_cpl, x0, x1)

        def simulated():
            if direction == "forward":  # the backward model carries the data to the source
                return jax.lax.stop_gradient(self.simulate(snapshot, k_sim, x1, "backward")[0]), x1
            return x0, jax.lax.stop_gradient(self.simulate(snapshot, k_sim, x0, "forward")[0])

        return jax.lax.cond(jnp.asarray(k) == 0, initial, simulated)

    def _direction_loss(self, params, batch, key, step, direction):
        k = self.iteration(step)
        active = self.trains(direction, k)
        k_pairs, k_fit = jax.random.split(key)

        def fit(_):
            x0, x1 = self.pairs(params, batch, k_pairs, k, direction)
            return self.matching_loss(params[direction], x0, x1, k_fit, direction), transport_cost(x0, x1)

        def skip(_):
            zero = jnp.zeros((), batch["x"].dtype)
            return zero, zero

        loss, cost = jax.lax.cond(active, fit, skip, None)
        return loss, {"active": active.astype(jnp.float32), "coupling_cost": cost,
                      "iteration": k.astype(jnp.float32)}

    def forward_loss(self, params, batch: dict, key: jax.Array, step):
        return self._direction_loss(params, batch, key, step, "forward")

    def backward_loss(self, params, batch: dict, key: jax.Array, step):
        return self._direction_loss(params, batch, key, step, "backward")

    def loss(self, params, batch: dict, key: jax.Array):
        """Both directions' bridge-matching losses on the initial coupling (iteration 0's objective)."""
        x1 = batch["x"]
        k_src, k_cpl, k_fwd, k_bwd = jax.random.split(key, 4)
        x0, x1 = self.initial_coupling(k_cpl, self.source.sample(k_src, x1.shape[0]), x1)
        fwd = self.matching_loss(params["forward"], x0, x1, k_fwd, "forward")
        bwd = self.matching_loss(params["backward"], x0, x1, k_bwd, "backward")
        return fwd + bwd, {"forward_loss": fwd, "backward_loss": bwd}

    def after_update(self, params, step):
        """Reset the untrained direction (alternating), average, and take the snapshot at an
        iteration's end."""
        step = jnp.asarray(step)
        k = self.iteration(step - 1)  # the iteration of the step just taken
        nets = {"forward": params["forward"], "backward": params["backward"]}
        snapshot = params["snapshot"]
        if self.schedule == "alternate":
            nets = {d: _tree_where(self.trains(d, k), nets[d], snapshot[d]) for d in DIRECTIONS}
        boundary = step % self.inner_steps == 0
        out = {}
        if self.average_decay:
            # The average restarts with the first step of each iteration.
            decay = jnp.where((step - 1) % self.inner_steps == 0, 0.0, self.average_decay)
            average = jax.tree_util.tree_map(lambda a, x: decay * a + (1.0 - decay) * x, params["average"], nets)
            nets = _tree_where(boundary, average, nets)
            out["average"] = average
        return {**nets, "snapshot": _tree_where(boundary, nets, snapshot), **out}
