"""Side-by-side: genjax FFJORD vs a PyTorch + torchdiffeq re-implementation of FFJORD's toy loop.

Runs only where PyTorch and torchdiffeq are installed (``pip install -e '.[bench-continuous]'``;
on CPU-only machines ``pip install torch==2.13.0 torchdiffeq`` avoids the large CUDA build):

    python -m experiments.ffjord_toy                       # a trained run to take parameters from
    python -m benchmarks.cnf_torch_reference --workdir runs/ffjord_8gaussians

The PyTorch side is written here from the FFJORD paper's description of ``train_toy.py``'s
settings (it is not FFJORD's code): ConcatSquash layers 2-64-64-64-2 with tanh, the CNF on
``[0, T]`` with the log-density state, ``torchdiffeq.odeint_adjoint`` with dopri5 at
rtol = atol = 1e-5, divergence by brute force (one autograd pass per dimension) or Hutchinson
(one vector-Jacobian product, Gaussian probe fixed per solve), Adam. Both sides load the *same*
parameters (from the genjax checkpoint), so both solve the same ODE and take about the same
number of steps; both time one full training iteration (forward solve, gradient, optimiser
update) on the same batch, interleaved in one process (``benchmarks/harness.py``: median of per-round ratios with its
quartiles), so the ratio holds on a shared machine.
``nfe_forward`` / ``nfe_backward`` count the PyTorch field evaluations of each pass (genjax's
is the forward count from the solver statistics).
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import time

# PyTorch's OpenMP threads spin after each parallel region by default, starving XLA's threads
# in the same process (the interleaved timing then measures the contention, not the code).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import jax
import ml_collections
import numpy as np
import optax

from benchmarks.common import report
from benchmarks.harness import compare
from benchmarks.cnf_speed import jitted_train_step, trained_params
from genjax import data, registry


def _torch_model(params: dict, divergence: str):
    import torch
    from torch import nn

    class ConcatSquash(nn.Module):
        def __init__(self, layer):
            super().__init__()
            w = lambda a: nn.Parameter(torch.tensor(np.asarray(a), dtype=torch.float32))  # noqa: E731
            self.weight, self.bias = w(layer["linear"]["kernel"]), w(layer["linear"]["bias"])
            self.gate_w, self.gate_b = w(layer["gate"]["kernel"][0]), w(layer["gate"]["bias"])
            self.shift_w = w(layer["shift"]["kernel"][0])

        def forward(self, t, x):
            return (x @ self.weight + self.bias) * torch.sigmoid(t * self.gate_w + self.gate_b) + t * self.shift_w

    class Field(nn.Module):
        def __init__(self, net_params):
            super().__init__()
            layers = net_params["params"]
            self.layers = nn.ModuleList([ConcatSquash(layers[f"ConcatSquashDense_{i}"]) for i in range(len(layers))])
            self.nfe = 0
            self.probe = None

        def forward(self, t, state):
            x, _ = state
            self.nfe += 1
            with torch.enable_grad():
                x = x.requires_grad_(True)
                h = x
                for i, layer in enumerate(self.layers):
                    h = layer(t, h)
                    if i < len(self.layers) - 1:
                        h = torch.tanh(h)
                if divergence == "exact":
                    div = sum(torch.autograd.grad(h[:, k].sum(), x, create_graph=True)[0][:, k]
                              for k in range(x.shape[1]))
                else:
                    e_jac = torch.autograd.grad(h, x, self.probe, create_graph=True)[0]
                    div = (e_jac * self.probe).sum(1)
            return h, div

    class CNF(nn.Module):
        def __init__(self):
            super().__init__()
            self.field = Field(params["net"])
            self.sqrt_time = nn.Parameter(torch.tensor(float(params["sqrt_time"])))

        def log_prob(self, x):
            from torchdiffeq import odeint_adjoint

            self.field.probe = torch.randn_like(x) if divergence == "hutchinson" else None
            times = torch.stack([torch.zeros(()), self.sqrt_time**2])
            zs, logdets = odeint_adjoint(self.field, (x, torch.zeros(x.shape[0])), times, rtol=1e-5, atol=1e-5,
                                         method="dopri5")
            z, logdet = zs[-1], logdets[-1]
            return -0.5 * (z**2).sum(1) - math.log(2 * math.pi) + logdet

    return CNF()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="runs/ffjord_8gaussians")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=2)
    args = p.parse_args()
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install torch==2.13.0 torchdiffeq (CPU wheel); nothing to compare")
        return
    jax_params, step = trained_params(pathlib.Path(args.workdir))
    if jax_params is None:
        print(f"no checkpoint in {args.workdir}: train first with python -m experiments.ffjord_toy")
        return
    params = jax.tree_util.tree_map(np.asarray, jax_params)
    ds = data.get_dataset("8gaussians")
    rows = []
    for batch_size in (100, 512):
        batch = ds.train_batch(jax.random.key(0), 10_000, batch_size)
        for div in ("exact", "hutchinson"):
            mc = ml_collections.ConfigDict({"name": "ffjord", "divergence": div, "adjoint": "recursive"})
            model = registry.build_model(mc, ds)
            tx = optax.adam(1e-3)
            opt = tx.init(jax_params)
            jax_step = jitted_train_step(model, tx)
            key = jax.random.key(1)
            _, _, m = jax_step(jax_params, opt, batch, key)
            jax_nfe = float(m["nfe"])

            cnf = _torch_model(params, div)
            optimiser = torch.optim.Adam(cnf.parameters(), lr=1e-3)
            x_t = torch.tensor(np.asarray(batch["x"]))
            counts = {}

            def torch_step(cnf=cnf, optimiser=optimiser, x_t=x_t, counts=counts):
                optimiser.zero_grad()
                cnf.field.nfe = 0
                loss = -cnf.log_prob(x_t).mean()
                counts["forward"] = cnf.field.nfe
                loss.backward()
                counts["backward"] = cnf.field.nfe - counts["forward"]
                optimiser.step()

            # Every timed call starts from the same parameters (the update is undone).
            snapshot = {k: v.clone() for k, v in cnf.state_dict().items()}

            def timed_torch():
                torch_step()
                cnf.load_state_dict(snapshot)

            comp = compare({"genjax": lambda: jax.block_until_ready(jax_step(jax_params, opt, batch, key)),
                            "torch": timed_torch}, calls_per_block=args.calls, rounds=args.rounds, baseline="torch")
            ratio = comp.ratio("genjax")
            rows.append({"batch": batch_size, "divergence": div, "params_step": step,
                         "genjax_s": comp.per_call("genjax")["median"], "genjax_nfe": jax_nfe,
                         "torch_s": comp.per_call("torch")["median"], "torch_nfe_forward": counts["forward"],
                         "torch_nfe_backward": counts["backward"], "speedup": ratio["median"],
                         "speedup_q25": ratio["q25"], "speedup_q75": ratio["q75"],
                         "torch_threads": torch.get_num_threads(), "load_before": comp.load_before[0],
                         "load_after": comp.load_after[0]})
            print(rows[-1], flush=True)
    report("cnf_torch_reference", rows, ["batch", "divergence", "genjax_s", "genjax_nfe", "torch_s",
                                         "torch_nfe_forward", "torch_nfe_backward", "speedup", "speedup_q25",
                                         "speedup_q75", "load_before"])


if __name__ == "__main__":
    main()
