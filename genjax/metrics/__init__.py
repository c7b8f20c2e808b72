"""Evaluation metrics: likelihoods in bits/dim, W2 by exact OT, MMD, mode coverage, and plots.

Imports no model family: metrics take arrays (samples, NLLs) and return numbers or files.
"""

from genjax.metrics.likelihood import bits_per_dim as bits_per_dim
from genjax.metrics.likelihood import discrete_nll as discrete_nll
from genjax.metrics.likelihood import nats_to_bits as nats_to_bits
from genjax.metrics.mmd import DEFAULT_BANDWIDTH_MULTIPLES as DEFAULT_BANDWIDTH_MULTIPLES
from genjax.metrics.mmd import mmd as mmd
from genjax.metrics.modes import mode_coverage as mode_coverage
from genjax.metrics.plots import density_plot as density_plot
from genjax.metrics.plots import image_grid as image_grid
from genjax.metrics.plots import scatter_plot as scatter_plot
from genjax.metrics.plots import trajectory_plot as trajectory_plot
from genjax.metrics.transport import gaussian_w2 as gaussian_w2
from genjax.metrics.transport import ot_pairing as ot_pairing
from genjax.metrics.transport import w2 as w2

__all__ = [
    "DEFAULT_BANDWIDTH_MULTIPLES",
    "bits_per_dim",
    "density_plot",
    "discrete_nll",
    "gaussian_w2",
    "image_grid",
    "mmd",
    "mode_coverage",
    "nats_to_bits",
    "ot_pairing",
    "scatter_plot",
    "trajectory_plot",
    "w2",
]
