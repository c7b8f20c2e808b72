"""Every experiment's documented command runs: ``genjax train --config experiments/<name>.py``,
from a directory outside the repository, for a couple of steps at the experiment's own model size.

The default tier runs three of them (one that imports a sibling module, as the flow experiments
do); the slow tier runs every runnable experiment (tfds ones inside ``tfds.testing.mock_data``).
An experiment that needs another run (``TEACHER = "<experiment>"`` in its module: a distillation
teacher) gets that experiment trained first, the same way, into ``runs/<experiment>`` of the
directory it runs from, which is where its config looks.
"""

import importlib
import pathlib

import pytest
import tensorflow_datasets as tfds

from genjax import cli

REPO = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted(cli.runnable_experiments())
TFDS = {"ddpm_mnist", "ddpm_cifar10", "glow_mnist", "realnvp_mnist", "ddgan_cifar10", "hvae_mnist", "vae_binarized_mnist", "edm_cifar10", "cd_cifar10"}
DEFAULT_TIER = ("nsf_toy",)  # it imports a sibling module (as icfm_8gaussians_moons does); every file runs in the slow tier
# The GPU-sized image configs compile a full UNet for CPU in minutes: narrower nets and a
# 2-step sampler keep the command's path (tfds pipeline, training, checkpoint, evaluation).
SMALLER = {
    "ddpm_mnist": ["--config.model.channels=8", "--config.eval.samplers=('ddim@2',)", "--config.model.sampler=ddim@2"],
    "realnvp_mnist": ["--config.model.channels=8"],
    "ddpm_cifar10": ["--config.model.channels=8", "--config.eval.samplers=('ddim@2',)", "--config.model.sampler=ddim@2"],
    "ddgan_cifar10": ["--config.model.channels=8", "--config.model.channel_mult=(1,2)", "--config.model.disc_channels=8",
                      "--config.model.disc_channel_mult=(1,2)", "--config.model.mapping_hidden=(16,)"],
    "edm_cifar10": ["--config.model.channels=8", "--config.eval.samplers=('edm_heun@2',)",
                    "--config.model.sampler=edm_heun@2"],
    "cd_cifar10": ["--config.eval.samplers=('cm@1',)"],  # the student takes the narrowed teacher's net
    "hvae_mnist": ["--config.model.width=8", "--config.model.num_groups=2", "--config.model.enc_cells=1",
                   "--config.model.dec_cells=1", "--config.model.eval_samples=4", "--config.model.eval_ks=(2,)"],
    "vae_binarized_mnist": ["--config.model.eval_samples=4", "--config.model.eval_ks=(2,)"],
}
TINY_RUN = [
    "--config.train.steps=2", "--config.train.steps_per_dispatch=1", "--config.train.log_every=1",
    "--config.train.checkpoint_every=2", "--config.train.eval_every=0", "--config.train.warmup_steps=0",
    "--config.train.progress=false", "--config.train.plot=false", "--config.eval.num_samples=32",
    "--config.eval.repeats=1", "--config.eval.mmd=false", "--config.eval.batch_size=16",
    "--config.eval.max_test_examples=16",
]


def teacher_of(name: str) -> str | None:
    """The experiment whose run ``name`` needs (its module's ``TEACHER``), or None."""
    return getattr(importlib.import_module(f"experiments.{name}"), "TEACHER", None)


def _run(name: str, tmp_path: pathlib.Path, monkeypatch, capsys, workdir: pathlib.Path | None = None) -> None:
    monkeypatch.chdir(tmp_path)  # outside the repository: sibling imports must still work
    teacher = teacher_of(name)
    if teacher is not None and not (tmp_path / "runs" / teacher / "checkpoints").is_dir():
        _run(teacher, tmp_path, monkeypatch, capsys, workdir=tmp_path / "runs" / teacher)
    workdir = workdir or tmp_path / name
    argv = ["train", "--config", str(REPO / "experiments" / f"{name}.py"), "--workdir", str(workdir), *TINY_RUN]
    if name in TFDS:
        argv += ["--config.data.batch_size=8", "--config.eval.num_samples=8", *SMALLER.get(name, [])]
        with tfds.testing.mock_data(num_examples=32):
            code = cli.main(argv)
    else:
        code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    assert "final metrics at step 2" in out


@pytest.mark.parametrize("name", DEFAULT_TIER)
def test_experiment_command_runs_from_outside_the_repository(name, tmp_path, monkeypatch, capsys):
    _run(name, tmp_path, monkeypatch, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if n not in DEFAULT_TIER])
def test_every_experiment_command_runs(name, tmp_path, monkeypatch, capsys):
    _run(name, tmp_path, monkeypatch, capsys)


def test_experiments_import_from_any_directory(tmp_path, monkeypatch):
    import subprocess
    import sys

    code = "from experiments.fm_moons import get_config; from experiments.nsf_toy import get_config as g; " \
           "print(get_config().model.name, g().model.name)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["flow_matching", "nsf"]
