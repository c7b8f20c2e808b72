"""Which times a model is trained at, and the sampling grids they allow.

``ContinuousTimes`` draws ``t ~ U[t_min, t_max]`` (score SDEs); ``DiscreteTimes`` draws one of a
fixed set of times (DDPM's ``i / T``, NCSN's noise levels). ``grid(steps, end)`` returns the
decreasing times a sampler visits: ``steps`` steps from the top down to ``end``. A discrete model's
grid is a strided subset of its own times (the "respacing" of improved DDPM), so a model trained
on 1000 times samples with 50 of them.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class ContinuousTimes:
    """``t ~ U[t_min, t_max]``."""

    t_min: float = 1e-3
    t_max: float = 1.0

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        return jax.random.uniform(key, (num,), minval=self.t_min, maxval=self.t_max)

    def grid(self, steps: int, end: float) -> jax.Array:
        """``steps + 1`` equally spaced times from ``t_max`` down to ``end``."""
        return jnp.linspace(self.t_max, end, steps + 1)

    @property
    def default_steps(self) -> int:
        return 1000

    @property
    def num_levels(self) -> int:
        """Noise levels of annealed Langevin dynamics when none are given."""
        return 10


@dataclasses.dataclass(frozen=True)
class DiscreteTimes:
    """One of ``values`` (increasing), uniformly."""

    values: tuple[float, ...]

    @classmethod
    def uniform(cls, num: int, *, include_zero: bool = False) -> DiscreteTimes:
        """``i / num`` for ``i = 1..num`` (DDPM), or ``i / (num - 1)`` for ``i = 0..num-1`` (noise levels)."""
        if include_zero:
            return cls(tuple(float(v) for v in np.linspace(0.0, 1.0, num)))
        return cls(tuple(float(i) / num for i in range(1, num + 1)))

    @property
    def t_min(self) -> float:
        return self.values[0]

    @property
    def t_max(self) -> float:
        return self.values[-1]

    @property
    def default_steps(self) -> int:
        return len(self.values) if self.values[0] > 0 else len(self.values) - 1

    @property
    def num_levels(self) -> int:
        return len(self.values)

    def array(self) -> jax.Array:
        return jnp.asarray(self.values)

    def sample_index(self, key: jax.Array, num: int) -> jax.Array:
        return jax.random.randint(key, (num,), 0, len(self.values))

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        return self.array()[self.sample_index(key, num)]

    def previous(self, index: jax.Array) -> jax.Array:
        """The time below ``values[index]``: ``values[index - 1]``, or 0 below the first."""
        values = self.array()
        return jnp.where(index > 0, values[jnp.maximum(index - 1, 0)], 0.0)

    def grid(self, steps: int, end: float) -> jax.Array:
        """``steps`` steps down a strided subset of ``values``, ending at ``end``.

        When ``end`` is below the smallest value (DDPM's data time 0) the grid is ``steps`` of the
        values, from the largest, followed by ``end``; otherwise it is ``steps + 1`` values from
        the largest to the smallest.
        """
        n = len(self.values)
        below = end < self.values[0]
        count = steps if below else steps + 1
        if count > n or count < 1:
            raise ValueError(f"a grid of {steps} steps needs {count} of this model's {n} times")
        idx = np.round(np.linspace(n - 1, 0, count)).astype(int) if count > 1 else np.array([n - 1])
        if len(np.unique(idx)) != count:
            raise ValueError(f"cannot choose {count} distinct times out of {n}")
        ts = [self.values[i] for i in idx]
        if below:
            ts.append(end)
        return jnp.asarray(ts)
