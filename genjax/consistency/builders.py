"""Config -> consistency models (used by the registry): ``cd``, ``ct``, ``ict``, ``ect``.

Keys every one reads (defaults in brackets): ``sigma_min`` [0.002; ECT 0], ``sigma_max`` [80],
``rho`` [7], ``sigma_data`` [the teacher's, else 0.5], ``metric`` ["l2" for CD / CT,
"pseudo_huber" for iCT / ECT] with ``huber_c`` [0.00054: c = huber_c sqrt(D)], ``sampler``
["cm@1"], and the network's ``hidden``, ``time_dim``, ``time_scale`` [250: it multiplies
``c_noise = log(sigma) / 4``], ``activation`` (a ``TimeMLP``) unless the student starts from
the teacher's network.

- ``cd``: ``teacher`` (required): the workdir of a trained ``edm`` (or VE ``score_sde``) or
  straight-path ``flow_matching`` run, or "gaussian" (the exact denoiser of a Gaussian fitted to
  the training data); ``num_levels`` [18], ``solver`` ["heun" / "euler"], ``target_decay``
  [0.95], ``init_from_teacher`` [True for a diffusion teacher: the student starts as its network].
- ``ct``: ``s0`` [2], ``s1`` [150], ``mu0`` [0.9], ``total_steps`` [10000] (the curriculum's length:
  set it to ``train.steps``).
- ``ict``: ``s0`` [10], ``s1`` [1280], ``total_steps`` [10000], ``p_mean`` [-1.1], ``p_std`` [2.0].
- ``ect``: ``teacher``: the workdir of a trained ``edm`` run to start from, or "none" (from
  scratch); ``q`` [2], ``k`` [8], ``b`` [1], ``stage_steps`` [2000], ``p_mean`` [-1.1], ``p_std`` [2.0].

A teacher run is loaded through ``load_run(workdir) -> (model, params)``, which the trainer
passes in (``genjax.train`` restores the run read-only; families do not import it).
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np

from genjax.config import EVEN_INT, POS_FLOAT, POS_INT, UNIT_INTERVAL, WIDTHS, SectionReader, at_least, one_of
from genjax.consistency.losses import (
    METRICS,
    SOLVERS,
    ConsistencyTraining,
    Distillation,
    EasyCT,
    ImprovedCT,
    PseudoHuber,
    SquaredL2,
)
from genjax.consistency.model import CM_SAMPLERS, Consistency, parse_multistep
from genjax.consistency.schedules import CTCurriculum, ECTMapping, ICTCurriculum
from genjax.consistency.teachers import DiffusionTeacher, FlowTeacher, GaussianTeacher
from genjax.diffusion import Affine, Diffusion, EDMPrediction
from genjax.errors import ConfigError
from genjax.flow_matching import FlowMatching
from genjax.nn import ACTIVATIONS, TimeMLP
from genjax.ode import SpecError

FIT_EXAMPLES = 10_000  # examples the Gaussian teacher's mean and covariance are fitted on


def _teacher_run(r: SectionReader, load_run, dataset, *, allowed: str):
    """``(model, params)`` of the run ``model.teacher`` names, or None for the keywords in ``allowed``."""
    name = r.get("teacher", "", lambda v: isinstance(v, str) and v != "", f"{allowed} or the workdir of a trained run")
    if name in allowed.replace("'", "").split(" or "):
        return name, None
    path = pathlib.Path(name)
    if not (path / "config.json").is_file() or not (path / "checkpoints").is_dir():
        raise ConfigError(f"config key 'model.teacher' = {name!r} names no trained run (no config.json and "
                          f"checkpoints there): train the teacher first (for runs/<experiment>: python -m "
                          f"experiments.{path.name}; else genjax train --config <teacher config> --workdir {name}), "
                          f"or set model.teacher to {allowed}")
    if load_run is None:
        raise ConfigError(f"config key 'model.teacher' = {name!r} is a run: build this model through genjax.train "
                          "(genjax train / eval / sample), which loads it, or pass load_run=")
    model, params = load_run(str(path))
    if tuple(model.event_shape) != tuple(dataset.event_shape):
        raise ConfigError(f"config key 'model.teacher' = {name!r}: the teacher's events have shape "
                          f"{tuple(model.event_shape)}, dataset {dataset.name!r} has {tuple(dataset.event_shape)}")
    return name, (model, jax.device_get(params))


def _wrap_teacher(name: str, model):
    try:
        if isinstance(model, Diffusion):
            return DiffusionTeacher(model)
        if isinstance(model, FlowMatching):
            return FlowTeacher(model)
    except ValueError as e:
        raise ConfigError(f"config key 'model.teacher' = {name!r}: {e}") from None
    raise ConfigError(f"config key 'model.teacher' = {name!r} is a {type(model).__name__} run; a teacher is a "
                      "diffusion (edm, VE score_sde) or flow_matching run")


def _student_net(r: SectionReader):
    return TimeMLP(
        hidden=r.get("hidden", (256, 256, 256), *WIDTHS),
        time_dim=r.get("time_dim", 64, *EVEN_INT),
        time_scale=r.get("time_scale", 250.0, *POS_FLOAT),
        activation=r.get("activation", "silu", *one_of(sorted(ACTIVATIONS))),
    )


def _metric(r: SectionReader, default: str):
    kind = r.get("metric", default, *one_of(METRICS))
    c = r.get("huber_c", 0.00054, *POS_FLOAT)
    return PseudoHuber(c) if kind == "pseudo_huber" else SquaredL2()


def _finish(r: SectionReader, dataset, objective, *, net=None, sigma_data=None, sigma_min=0.002, sigma_max=80.0,
            transform=None, teacher=None, teacher_params=None, init_params=None,
            teacher_levels=None) -> Consistency:
    """The keys every consistency builder shares, then the model. ``teacher_levels``: the
    ``(lo, hi)`` levels a distillation teacher was trained on, which the grid must stay inside."""
    sigma_min = r.get("sigma_min", sigma_min, at_least(0.0)[0], "a float >= 0")
    sigma_max = r.get("sigma_max", sigma_max, lambda v: v > sigma_min, f"a float > sigma_min = {sigma_min}")
    if teacher_levels is not None:
        lo, hi = teacher_levels
        if sigma_min < lo * (1 - 1e-6) or sigma_max > hi * (1 + 1e-6):
            raise ConfigError(f"config keys 'model.sigma_min' / 'model.sigma_max' = {sigma_min} / {sigma_max} leave "
                              f"the levels the teacher was trained on, [{lo:g}, {hi:g}]")
    rho = r.get("rho", 7.0, *POS_FLOAT)
    sigma_data = r.get("sigma_data", 0.5 if sigma_data is None else float(sigma_data), *POS_FLOAT)
    if transform is None:
        transform = Affine.for_dataset(dataset, rescale=r.get("rescale", dataset.dequantization is not None))
    sampler = r.get("sampler", "cm@1")
    try:
        parse_multistep(CM_SAMPLERS.parse(sampler))
    except (SpecError, ValueError) as e:
        raise ConfigError(f"config key 'model.sampler' = {sampler!r}: {e}") from None
    net = net if net is not None else _student_net(r)
    r.finish()
    return Consistency(net, dataset.event_shape, objective=objective, sigma_data=sigma_data, sigma_min=sigma_min,
                       sigma_max=sigma_max, rho=rho, teacher=teacher, teacher_params=teacher_params,
                       init_params=init_params, transform=transform, default_sampler=sampler)


def _edm_sigma_data(model) -> float | None:
    """The teacher's sigma_data when its network is EDM-preconditioned (then it is a consistency
    network with its boundary at 0), else None."""
    return model.prediction.sigma_data if isinstance(getattr(model, "prediction", None), EDMPrediction) else None


def build_cd(model_config, dataset, load_run=None) -> Consistency:
    r = SectionReader(model_config, "model")
    name, run = _teacher_run(r, load_run, dataset, allowed="'gaussian'")
    objective = Distillation(
        num_levels=r.get("num_levels", 18, *at_least(2, integer=True)),
        solver=r.get("solver", "heun", *one_of(SOLVERS)),
        target_decay_rate=r.get("target_decay", 0.95, *UNIT_INTERVAL),
        metric=_metric(r, "l2"),
    )
    if run is None:  # the exact denoiser of a Gaussian fitted to the training data
        if len(dataset.event_shape) != 1:
            raise ConfigError("config key 'model.teacher' = 'gaussian' fits vector data only; "
                              f"dataset {dataset.name!r} has events of shape {dataset.event_shape}")
        transform = Affine.for_dataset(dataset, rescale=r.get("rescale", dataset.dequantization is not None))
        x = dataset.train_batch(jax.random.key(0), 0, min(FIT_EXAMPLES, _num_train(dataset)))["x"]
        teacher = GaussianTeacher.fit(transform.forward(np.asarray(x)), transform)
        return _finish(r, dataset, objective, transform=transform, teacher=teacher)
    model, params = run
    teacher = _wrap_teacher(name, model)
    sigma_data = _edm_sigma_data(model)
    init = r.get("init_from_teacher", sigma_data is not None)
    if init and sigma_data is None:
        raise ConfigError(f"config key 'model.init_from_teacher' = True needs an edm teacher (an EDM-preconditioned "
                          f"network is a consistency network); {name!r} is a {type(model).__name__} run with "
                          f"{type(getattr(model, 'prediction', None)).__name__ or 'a velocity'}")
    levels = teacher.sigma_range() if isinstance(teacher, DiffusionTeacher) else None
    return _finish(r, dataset, objective, net=model.net if init else None, sigma_data=sigma_data,
                   sigma_min=max(0.002, levels[0]) if levels else 0.002, sigma_max=levels[1] if levels else 80.0,
                   transform=teacher.transform, teacher=teacher, teacher_params=params,
                   init_params=params if init else None, teacher_levels=levels)


def _num_train(dataset) -> int:
    return getattr(dataset, "num_train", FIT_EXAMPLES)


def build_ct(model_config, dataset, load_run=None) -> Consistency:
    del load_run
    r = SectionReader(model_config, "model")
    curriculum = CTCurriculum(
        s0=r.get("s0", 2, *at_least(2, integer=True)), s1=r.get("s1", 150, *POS_INT),
        mu0=r.get("mu0", 0.9, *UNIT_INTERVAL), total_steps=r.get("total_steps", 10_000, *POS_INT))
    return _finish(r, dataset, ConsistencyTraining(curriculum, _metric(r, "l2")))


def build_ict(model_config, dataset, load_run=None) -> Consistency:
    del load_run
    r = SectionReader(model_config, "model")
    s0 = r.get("s0", 10, *at_least(2, integer=True))
    curriculum = ICTCurriculum(s0=s0, s1=r.get("s1", 1280, lambda v: isinstance(v, int) and v >= s0,
                                                f"an integer >= s0 = {s0}"),
                               total_steps=r.get("total_steps", 10_000, *POS_INT))
    objective = ImprovedCT(curriculum, p_mean=r.get("p_mean", -1.1), p_std=r.get("p_std", 2.0, *POS_FLOAT),
                           metric=_metric(r, "pseudo_huber"))
    return _finish(r, dataset, objective)


def build_ect(model_config, dataset, load_run=None) -> Consistency:
    r = SectionReader(model_config, "model")
    name, run = _teacher_run(r, load_run, dataset, allowed="'none'")
    mapping = ECTMapping(q=r.get("q", 2.0, lambda v: isinstance(v, (int, float)) and v > 1, "a float > 1"),
                         k=r.get("k", 8.0, *at_least(0.0)), b=r.get("b", 1.0, *POS_FLOAT),
                         stage_steps=r.get("stage_steps", 2000, *POS_INT))
    objective = EasyCT(mapping, p_mean=r.get("p_mean", -1.1), p_std=r.get("p_std", 2.0, *POS_FLOAT),
                       metric=_metric(r, "pseudo_huber"))
    if run is None:
        return _finish(r, dataset, objective, sigma_min=0.0)
    model, params = run
    sigma_data = _edm_sigma_data(model)
    if sigma_data is None:
        raise ConfigError(f"config key 'model.teacher' = {name!r}: ECT starts from a trained edm run "
                          "(an EDM-preconditioned denoiser is a consistency function with its boundary at 0)")
    return _finish(r, dataset, objective, net=model.net, sigma_data=sigma_data, sigma_min=0.0,
                   sigma_max=DiffusionTeacher(model).sigma_range()[1], transform=model.transform, init_params=params)
