"""Where along the probability-flow ODE the log-density of chosen test digits is made.

    python -m benchmarks.diffusion_digits_trajectory --digits 241,219,102,0
    python -m benchmarks.diffusion_digits_trajectory --digits 241,219,102 --label   # log p(x | y)
    python -m benchmarks.diffusion_digits_trajectory --digits 241,219,102 --raw     # no EMA

Integrates ``dx/dt = f(x, t)`` and ``d delta/dt = div f`` (exact divergence) for each digit from
``t_min`` to ``T`` with classical RK4 on a fixed grid (``--log-steps`` log-spaced steps up to
``t = 0.1``, ``--lin-steps`` uniform ones after), so ``log p = log p_T(x_T) + delta + log|det|``
of the data -> model-space map. Per time band it prints the divergence integral, the largest
``|x_t|`` and the largest ``|f|``: a trajectory that leaves the typical set (``|x_t|`` about
``sqrt(D) = 8`` at large ``t``) and is expanded by the network there shows up as a huge
``|x_T|`` and a very negative prior term, not as a divergence integral.
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from genjax import train
from genjax.ode import exact_divergence

BANDS = ((0.0, 1e-4), (1e-4, 1e-3), (1e-3, 1e-2), (1e-2, 0.1), (0.1, 0.5), (0.5, 1.0 + 1e-6))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="runs/diffusion_digits")
    p.add_argument("--digits", default="241,219,102,0", help="comma-separated test indices")
    p.add_argument("--label", action="store_true", help="the conditional model at the true label")
    p.add_argument("--raw", action="store_true", help="the raw parameters instead of the EMA ones")
    p.add_argument("--log-steps", type=int, default=3000)
    p.add_argument("--lin-steps", type=int, default=1000)
    args = p.parse_args()
    workdir = pathlib.Path(args.workdir)
    config = train.read_workdir_config(workdir)
    trainer, state, step = train.restore_for_eval(config, workdir)
    model = trainer.model
    params = trainer.unstack(state.params)[0] if args.raw else trainer.eval_params(state)[0]
    idx = jnp.array([int(v) for v in args.digits.split(",")])
    test = trainer.dataset.test_batch()
    label = test["label"][idx] if args.label else None
    y = model.transform.forward(jnp.asarray(test["x"])[idx])
    rsde = model.sde.reverse(lambda x, t: model.score(params, x, t, label), probability_flow=True)
    t0, t1 = model.times.t_min, model.sde.T
    ts = jnp.concatenate([jnp.geomspace(t0, 0.1, args.log_steps), jnp.linspace(0.1, t1, args.lin_steps + 1)[1:]])

    def field(x, t):
        return exact_divergence(lambda z: rsde.drift(z, t), x)[:2]

    def rk4(x, interval):
        a, b = interval
        h = b - a
        k1, d1 = field(x, a)
        k2, d2 = field(x + h / 2 * k1, a + h / 2)
        k3, d3 = field(x + h / 2 * k2, a + h / 2)
        k4, d4 = field(x + h * k3, b)
        x_next = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x_next, (h / 6 * (d1 + 2 * d2 + 2 * d3 + d4), jnp.linalg.norm(x_next, axis=-1),
                        jnp.linalg.norm(k1, axis=-1))

    y_T, (delta, norm, speed) = jax.jit(lambda y: jax.lax.scan(rk4, y, (ts[:-1], ts[1:])))(y)
    delta, norm, speed, left = map(np.asarray, (delta, norm, speed, ts[:-1]))
    prior = np.asarray(model.sde.prior_logp(y_T))
    log_det = model.transform.log_det(model.num_dims)
    print(f"step {step}, {'raw' if args.raw else 'EMA'} params, {'true label' if args.label else 'null label'}")
    # the digits themselves: values recovered from a whole dequantized epoch of training digits
    ds = trainer.dataset
    dq = ds.dequantization
    train_v = np.floor((np.asarray(ds.train_batch(jax.random.key(0), 0, ds.num_train)["x"], np.float64) - dq.shift) / dq.scale)
    all_test_v = np.floor((np.asarray(test["x"], np.float64) - dq.shift) / dq.scale)
    above = (all_test_v > train_v.max(0)).any(1)
    print(f"test digits with a pixel above that pixel's training maximum: {int(above.sum())} of {len(above)}")
    test_v = all_test_v[np.asarray(idx)]
    for j, i in enumerate(np.asarray(idx)):
        v = test_v[j]
        # per pixel: training digits with a value >= this one (a nonzero value) or == 0 (a zero)
        count = np.where(v > 0, (train_v >= v).sum(0), (train_v == 0).sum(0))
        rare = np.argsort(count, kind="stable")[:3]
        nearest = np.sqrt(((train_v - v) ** 2).sum(1)).min()
        print(f"test digit {i} (label {int(test['label'][i])}): rarest pixels (pixel, value, training digits "
              f"with that value or more) {[(int(q), int(v[q]), int(count[q])) for q in rare]}, "
              f"nearest training digit at L2 {nearest:.3g} (values 0..16)")
    for j, i in enumerate(np.asarray(idx)):
        total = float(delta[:, j].sum())
        print(f"test digit {i}: log p = {prior[j] + total + log_det:.4g} nats = prior {prior[j]:.4g} "
              f"+ divergence integral {total:.4g} + log det {log_det:.4g}; |x_T| = {norm[-1, j]:.4g}")
        for lo, hi in BANDS:
            m = (left >= lo) & (left < hi)
            if m.any():
                print(f"    t in [{lo:g}, {min(hi, t1):g}): divergence integral {delta[m, j].sum():9.4g}, "
                      f"max |x_t| {norm[m, j].max():9.4g}, max |f| {speed[m, j].max():9.4g}")


if __name__ == "__main__":
    main()
