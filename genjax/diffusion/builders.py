"""Config -> diffusion models (used by the registry): the only place names pick objects.

Four builders share the network, prediction, guidance, likelihood and sampling keys:

- ``ddpm``: a VP process trained at ``num_steps`` discrete times (linear or cosine betas, or
  ``vp``: the VP SDE's ``beta_min .. beta_max`` on ``num_steps`` steps, ``vp_betas``);
  simple or full variational loss; ``log_prob`` the variational bound (or the PF-ODE).
- ``score_sde``: VP, sub-VP or VE SDE in continuous time; denoising or sliced score matching;
  ``log_prob`` through the probability-flow ODE.
- ``ncsn``: the VE process at ``num_levels`` geometric noise levels; annealed Langevin sampling.
- ``edm``: Karras et al.'s EDM: the noise level as time (``EDMProcess``), the preconditioned
  network (``prediction = "edm"`` with ``sigma_data``), log-normal training levels (``p_mean``,
  ``p_std``) with the EDM loss weighting, EDM's samplers on the rho grid (``edm_heun@18``).
"""

from __future__ import annotations

from genjax.config import (
    EVEN_INT,
    NONNEG_FLOAT,
    POS_FLOAT,
    POS_INT,
    UNIT_INTERVAL,
    UNIT_OPEN,
    WIDTHS,
    SectionReader,
    one_of,
    at_least,
    read_ode,
)
from genjax.diffusion.ddpm import VARIANCES, Bins
from genjax.diffusion.edm import EDMProcess, LogNormalTimes
from genjax.diffusion.losses import WEIGHTINGS, DenoisingLoss, EDMWeighting, SlicedScoreLoss, VLBLoss
from genjax.diffusion.model import Affine, Diffusion, ODELikelihood, VLBLikelihood
from genjax.diffusion.predictions import PREDICTIONS, EDMPrediction, bounded
from genjax.diffusion.samplers import EDM_SAMPLERS, SAMPLERS, parse_sampler
from genjax.diffusion.schedules import (
    CosineLogSNR,
    DiscreteSchedule,
    LinearBeta,
    cosine_betas,
    linear_betas,
    vp_betas,
)
from genjax.diffusion.sde import VESDE, VPSDE, SubVPSDE
from genjax.diffusion.times import ContinuousTimes, DiscreteTimes
from genjax.errors import ConfigError
from genjax.nn import ACTIVATIONS, TimeMLP, UNet
from genjax.ode import DIVERGENCES, PROBES, ODESolverConfig, SpecError

NETS = ("mlp", "unet")
SDES = ("vp", "subvp", "ve")
SCORE_LOSSES = ("dsm", "ssm", "ssm_vr")
# The probability-flow solve of sampling ("ode" and solver-name specs) and of log_prob.
DEFAULT_ODE = ODESolverConfig("tsit5", rtol=1e-5, atol=1e-5)


def _net(r: SectionReader, dataset, num_classes, time_scale: float = 1000.0):
    kind = r.get("net", "unet" if len(dataset.event_shape) == 3 else "mlp", *one_of(NETS))
    time_scale = r.get("time_scale", time_scale, *POS_FLOAT)
    if kind == "mlp":
        return TimeMLP(
            hidden=r.get("hidden", (256, 256, 256), *WIDTHS),
            time_dim=r.get("time_dim", 64, *EVEN_INT),
            time_scale=time_scale,
            activation=r.get("activation", "silu", *one_of(sorted(ACTIVATIONS))),
            num_classes=num_classes,
        )
    if len(dataset.event_shape) != 3:
        raise ConfigError(f"config key 'model.net' = 'unet' needs image data [H, W, C]; dataset "
                          f"{dataset.name!r} has events of shape {dataset.event_shape}")
    return UNet(
        channels=r.get("channels", 64, *POS_INT),
        channel_mult=r.get("channel_mult", (1, 2, 2), *WIDTHS),
        num_res_blocks=r.get("num_res_blocks", 2, *POS_INT),
        attention_levels=r.get("attention_levels", (1,), lambda v: isinstance(v, tuple) and all(
            isinstance(i, int) and i >= 0 for i in v), "a tuple of level indices"),
        num_classes=num_classes,
        time_scale=time_scale,
        groups=r.get("groups", 8, *POS_INT),
    )


class _Common:
    """Keys every diffusion builder reads, in one place."""

    def __init__(self, r: SectionReader, dataset, *, default_sampler: str, default_prediction: str = "eps",
                 samplers=SAMPLERS, time_scale: float = 1000.0):
        conditional = r.get("conditional", False)
        if conditional and dataset.num_classes is None:
            raise ConfigError(f"config key 'model.conditional' = True needs labels; dataset {dataset.name!r} has none")
        self.num_classes = dataset.num_classes if conditional else None
        self.label_dropout = r.get("label_dropout", 0.1 if conditional else 0.0, *UNIT_INTERVAL)
        self.net = _net(r, dataset, self.num_classes, time_scale)
        self.samplers = samplers
        prediction = r.get("prediction", default_prediction, *one_of(sorted([*PREDICTIONS, "edm"])))
        # sigma_data: the data's std in model space, for EDM's preconditioning (and its weighting)
        self.sigma_data = None
        if prediction == "edm" or default_prediction == "edm":
            self.sigma_data = r.get("sigma_data", 0.5, *POS_FLOAT)
        self.prediction = EDMPrediction(self.sigma_data) if prediction == "edm" else PREDICTIONS[prediction]
        # x0_bound > 0: the implied x0 (eps) or the denoiser D (edm) is kept in [-x0_bound, x0_bound]
        x0_bound = r.get("x0_bound", 0.0, NONNEG_FLOAT[0], "a float >= 0 (0: none)")
        width = r.get("x0_bound_width", 0.1 * (x0_bound or 1.0), lambda v: POS_FLOAT[0](v) and v <= (x0_bound or v),
                      f"a float in (0, x0_bound = {x0_bound}]")
        if x0_bound:
            if prediction not in ("eps", "edm"):
                raise ConfigError(f"config key 'model.x0_bound' = {x0_bound} needs model.prediction = 'eps' or "
                                  f"'edm' (it bounds the clean-data estimate of a noise or EDM prediction); "
                                  f"got {prediction!r}")
            self.prediction = bounded(self.prediction, x0_bound, width)
        dq = dataset.dequantization
        self.transform = Affine.for_dataset(dataset, rescale=r.get("rescale", dq is not None))
        self.bins = None
        if dq is not None:
            self.bins = Bins(self.transform.forward(dq.shift), self.transform.scale * dq.scale, dq.levels)
        self.sampler = r.get("sampler", default_sampler)
        try:
            parse_sampler(self.sampler, samplers)
        except (SpecError, ValueError) as e:
            raise ConfigError(f"config key 'model.sampler' = {self.sampler!r}: {e}") from None
        self.solver = read_ode(r, DEFAULT_ODE)
        clip = r.get("clip", 1.0 if len(dataset.event_shape) == 3 else 0.0, NONNEG_FLOAT[0], "a float >= 0 (0: none)")
        self.clip = clip or None

    def ode_likelihood(self, r: SectionReader) -> ODELikelihood:
        return ODELikelihood(
            divergence=r.get("divergence", "exact", *one_of(DIVERGENCES)),
            probe=r.get("probe", "rademacher", *one_of(PROBES)),
        )

    def model(self, event_shape, **kw) -> Diffusion:
        return Diffusion(self.net, event_shape, prediction=self.prediction, num_classes=self.num_classes,
                         label_dropout=self.label_dropout, transform=self.transform,
                         default_sampler=self.sampler, solver=self.solver, clip=self.clip,
                         samplers=self.samplers, **kw)


def _score_objective(r: SectionReader, default_weighting: str):
    loss = r.get("loss", "dsm", *one_of(SCORE_LOSSES))
    if loss == "dsm":
        return DenoisingLoss(WEIGHTINGS[r.get("weighting", default_weighting, *one_of(sorted(WEIGHTINGS)))])
    return SlicedScoreLoss(variance_reduced=loss == "ssm_vr", probe=r.get("probe_ssm", "gaussian", *one_of(PROBES)))


def build_ddpm(model_config, dataset) -> Diffusion:
    r = SectionReader(model_config, "model")
    c = _Common(r, dataset, default_sampler="ddpm")
    num_steps = r.get("num_steps", 1000, *POS_INT)
    schedule = r.get("schedule", "linear", *one_of(("linear", "cosine", "vp")))
    if schedule == "linear":
        betas = linear_betas(num_steps, r.get("beta_start", 1e-4, *POS_FLOAT), r.get("beta_end", 0.02, *UNIT_OPEN))
    elif schedule == "vp":  # the VP SDE on num_steps steps of [t_min, 1]: DDGAN's few-step grid
        betas = vp_betas(num_steps, r.get("beta_min", 0.1, *POS_FLOAT), r.get("beta_max", 20.0, *POS_FLOAT),
                         r.get("t_min", 1e-3, *UNIT_INTERVAL))
    else:
        betas = cosine_betas(num_steps)
    sde = VPSDE(DiscreteSchedule(betas))
    variance = r.get("variance", "large", *one_of(VARIANCES))
    loss = r.get("loss", "simple", *one_of(("simple", "vlb")))
    objective = DenoisingLoss() if loss == "simple" else VLBLoss(variance, c.bins)
    likelihood_kind = r.get("likelihood", "vlb", *one_of(("vlb", "ode")))
    likelihood = VLBLikelihood(variance, c.bins) if likelihood_kind == "vlb" else c.ode_likelihood(r)
    r.finish()
    return c.model(dataset.event_shape, sde=sde, times=DiscreteTimes.uniform(num_steps), objective=objective,
                   likelihood=likelihood)


def build_score_sde(model_config, dataset) -> Diffusion:
    r = SectionReader(model_config, "model")
    c = _Common(r, dataset, default_sampler="ode")
    kind = r.get("sde", "vp", *one_of(SDES))
    if kind == "ve":
        sigma_min = r.get("sigma_min", 0.01, *POS_FLOAT)
        sde = VESDE(sigma_min, r.get("sigma_max", 50.0, lambda v: v > sigma_min, f"a float > sigma_min = {sigma_min}"))
    else:
        schedule_kind = r.get("schedule", "linear", *one_of(("linear", "cosine")))
        if schedule_kind == "linear":
            schedule = LinearBeta(r.get("beta_min", 0.1, *POS_FLOAT), r.get("beta_max", 20.0, *POS_FLOAT))
        else:
            schedule = CosineLogSNR()
        sde = VPSDE(schedule) if kind == "vp" else SubVPSDE(schedule)
    t_min = r.get("t_min", 1e-5 if kind == "ve" else 1e-3, *UNIT_OPEN)
    objective = _score_objective(r, "simple")
    likelihood = c.ode_likelihood(r)
    r.finish()
    return c.model(dataset.event_shape, sde=sde, times=ContinuousTimes(t_min), objective=objective,
                   likelihood=likelihood)


def build_ncsn(model_config, dataset) -> Diffusion:
    r = SectionReader(model_config, "model")
    c = _Common(r, dataset, default_sampler="ald@100")
    sigma_min = r.get("sigma_min", 0.01, *POS_FLOAT)
    sde = VESDE(sigma_min, r.get("sigma_max", 1.0, lambda v: v > sigma_min, f"a float > sigma_min = {sigma_min}"))
    num_levels = r.get("num_levels", 10, *at_least(2, integer=True))
    objective = _score_objective(r, "sigma2")
    likelihood = c.ode_likelihood(r)
    r.finish()
    return c.model(dataset.event_shape, sde=sde, times=DiscreteTimes.uniform(num_levels, include_zero=True),
                   objective=objective, likelihood=likelihood)


def build_edm(model_config, dataset) -> Diffusion:
    """EDM (Karras et al. 2022). ``model.*`` keys of its own, defaults in brackets: ``sigma_data``
    [0.5], ``sigma_min`` [0.002], ``sigma_max`` [80], ``rho`` [7] (the sampling grid), ``p_mean``
    [-1.2], ``p_std`` [1.2] (training levels), ``prediction`` ["edm": the preconditioned F], and
    the shared network / likelihood / ``sampler`` ["edm_heun@18"] keys (``time_scale`` [250]
    multiplies ``c_noise = log(sigma) / 4`` before the sinusoidal embedding)."""
    r = SectionReader(model_config, "model")
    c = _Common(r, dataset, default_sampler="edm_heun@18", default_prediction="edm", samplers=EDM_SAMPLERS,
                time_scale=250.0)
    sigma_min = r.get("sigma_min", 0.002, *POS_FLOAT)
    sigma_max = r.get("sigma_max", 80.0, lambda v: v > sigma_min, f"a float > sigma_min = {sigma_min}")
    times = LogNormalTimes(r.get("p_mean", -1.2), r.get("p_std", 1.2, *POS_FLOAT), sigma_min, sigma_max,
                           r.get("rho", 7.0, *POS_FLOAT))
    objective = DenoisingLoss(EDMWeighting(c.sigma_data))
    likelihood = c.ode_likelihood(r)
    r.finish()
    return c.model(dataset.event_shape, sde=EDMProcess(sigma_max), times=times, objective=objective,
                   likelihood=likelihood)
