"""Masked autoregressive flows: MAF (Papamakarios et al. 2017) and IAF (Kingma et al. 2016).

Both transform element ``i`` with a transformer whose parameters a MADE computes from the
elements before ``i`` — of the *data side* for MAF, of the *base side* for IAF:

    MAF:  y_i = tau(x_i; theta(y_<i))   density (inverse) in one pass, sampling in ``dim`` passes
    IAF:  y_i = tau(x_i; theta(x_<i))   sampling (forward) in one pass, density in ``dim`` passes

The sequential direction is a fixed-point sweep: starting from zeros, ``dim`` applications of
``out <- tau^{+-1}(in; theta(out))`` make one more element exact each time (element ``i`` only
reads elements before it). It runs as one ``nn.scan``, compiled once. Vector events ``[B, dim]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from genjax.bijectors.base import Bijector
from genjax.bijectors.transforms import Affine
from genjax.nn import MADE


class _Autoregressive(Bijector):
    hidden: Sequence[int] = (64, 64)
    transform: Any = Affine()
    activation: str = "relu"
    order: Sequence[int] | None = None

    def setup(self):
        self.made = MADE(self.hidden, self.transform.num_params, activation=self.activation, order=self.order)

    def _parallel(self, inp, cond, invert: bool):
        """``tau^{+-1}(inp; theta(inp))``: one pass (conditioner on the same side as the input)."""
        params = self.made(inp, cond)
        fn = self.transform.inverse if invert else self.transform.forward
        out, ld = fn(inp, params)
        return out, jnp.sum(ld, axis=-1)

    def _sequential(self, inp, cond, invert: bool):
        """Solves ``out = tau^{+-1}(inp; theta(out))`` (conditioner on the output side)."""
        fn = self.transform.inverse if invert else self.transform.forward
        self.made(inp, cond)  # creates the parameters at init, outside the loop

        def body(made, carry, _):
            out, _ = carry
            new, ld = fn(inp, made(out, cond))
            return (new, ld), None

        loop = nn.scan(body, variable_broadcast="params", split_rngs={"params": False}, length=inp.shape[-1])
        (out, ld), _ = loop(self.made, (jnp.zeros_like(inp), jnp.zeros_like(inp)), None)
        # The last sweep read the first dim-1 outputs, already exact: its log-det is exact.
        return out, jnp.sum(ld, axis=-1)


class MAF(_Autoregressive):
    """Masked autoregressive flow layer: fast density (inverse), sequential sampling (forward).

    Attributes:
      hidden: MADE hidden widths.
      transform: elementwise transformer (``Affine`` or ``RationalQuadraticSpline``).
      order: MADE input order (a permutation of ``1..dim``); default ``1..dim``.
    """

    def forward_and_log_det(self, x, cond=None):
        return self._sequential(x, cond, invert=False)

    def inverse_and_log_det(self, y, cond=None):
        return self._parallel(y, cond, invert=True)


class IAF(_Autoregressive):
    """Inverse autoregressive flow layer: fast sampling (forward), sequential density (inverse)."""

    def forward_and_log_det(self, x, cond=None):
        return self._parallel(x, cond, invert=False)

    def inverse_and_log_det(self, y, cond=None):
        return self._sequential(y, cond, invert=True)
