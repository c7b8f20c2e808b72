"""The one continuous-time layer every family integrates with.

- ``solve``: ``odeint`` over diffrax, the solver table, ``ODESolverConfig``, NFE, adjoints.
- ``divergence``: exact and Hutchinson divergences (Gaussian or Rademacher probes).
- ``log_det``: ``integrate_with_log_det`` and ``ode_log_prob`` (the instantaneous change of variables).
- ``sde``: ``sdeint``, fixed-grid Euler-Maruyama / stochastic Heun.
- ``spec``: the sampler grammar ``name[@steps][:option=value]...`` and the ODE-solver samplers.

Families import this package; it imports no family.
"""

from genjax.ode.divergence import (
    DIVERGENCES,
    PROBES,
    divergence,
    exact_divergence,
    hutchinson_divergence,
    sample_probe,
)
from genjax.ode.log_det import integrate_with_log_det, ode_log_prob
from genjax.ode.sde import SDE_SOLVERS, sdeint
from genjax.ode.solve import ADJOINTS, SOLVERS, ODESolverConfig, odeint
from genjax.ode.spec import (
    DEFAULT,
    ODE_SAMPLERS,
    SamplerKind,
    SamplerSpec,
    SamplerTable,
    SpecError,
    ode_config,
    split_spec,
)

__all__ = [
    "ADJOINTS",
    "DEFAULT",
    "DIVERGENCES",
    "ODE_SAMPLERS",
    "PROBES",
    "SDE_SOLVERS",
    "SOLVERS",
    "ODESolverConfig",
    "SamplerKind",
    "SamplerSpec",
    "SamplerTable",
    "SpecError",
    "divergence",
    "exact_divergence",
    "hutchinson_divergence",
    "integrate_with_log_det",
    "ode_config",
    "ode_log_prob",
    "odeint",
    "sample_probe",
    "sdeint",
    "split_spec",
]
