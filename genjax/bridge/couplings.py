"""Couplings a bridge starts from, besides flow matching's (independent, exact OT, pairs).

Same signature as ``genjax.flow_matching.couplings``: ``(key, x0, x1) -> (x0, x1)``.

- ``schrodinger_coupling(sigma)``: minibatch entropic OT with ``epsilon = 2 sigma^2`` in the
  units of the squared distances, the static Schrödinger bridge of ``dX = sigma dW`` between
  the two batches (flow matching's ``SinkhornCoupling`` with an absolute epsilon; never exact
  OT, whatever the data's scale).
- ``ReferenceCoupling(sigma)``: the reference process itself, ``(x0, x0 + sigma Z)``: the
  coupling iterative proportional fitting starts from (DSBM-IPF); the data batch is unused.
"""

from __future__ import annotations

import dataclasses

import jax

from genjax.flow_matching import SinkhornCoupling


def schrodinger_coupling(sigma: float, iters: int = 200) -> SinkhornCoupling:
    """Entropic OT at ``epsilon = 2 sigma^2`` (absolute), by ``iters`` log-domain Sinkhorn steps."""
    if not sigma > 0:
        raise ValueError(f"the Schrödinger coupling needs sigma > 0 (sigma = 0 is exact OT), got {sigma}")
    return SinkhornCoupling(epsilon=2.0 * float(sigma) ** 2, iters=iters, absolute=True)


@dataclasses.dataclass(frozen=True)
class ReferenceCoupling:
    """``(x0, x0 + sigma Z)``: the Brownian reference started from the source batch."""

    sigma: float

    def __call__(self, key: jax.Array, x0: jax.Array, x1: jax.Array):
        del x1
        return x0, x0 + self.sigma * jax.random.normal(key, x0.shape, x0.dtype)
