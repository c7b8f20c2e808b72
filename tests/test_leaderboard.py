"""The leaderboard reads every family from the registry and gives each a row on every dataset.

Default tier: the budget grammar, one candidate per registered family (none dropped), the
table's cells for a family without a density, one-line errors. Slow tier: the whole command at
tiny size (one row per family and dataset, every column filled or saying why) and its rows
reproduced by a second run from scratch.
"""

import json
import math

import pytest

from genjax import cli, leaderboard, registry
from genjax.errors import ConfigError

TINY = ["--quick", "--tiny", "--data", "moons,digits", "--budget", "steps=4"]
NUMERIC = ("w2", "w2_ratio", "w2_floor", "sample_seconds", "train_seconds")


def test_budget_grammar():
    assert leaderboard.Budget.parse("steps=300") == leaderboard.Budget("steps", 300)
    assert leaderboard.Budget.parse("seconds=1.5") == leaderboard.Budget("seconds", 1.5)
    for bad in ("300", "steps=", "steps=-1", "minutes=3", "seconds=abc"):
        with pytest.raises(ConfigError, match="steps=N or seconds=S"):
            leaderboard.Budget.parse(bad)


@pytest.mark.parametrize("kind", ["2d", "digits"])
def test_every_registered_family_has_a_candidate(kind):
    families = {e.family for e in registry.entries().values()}
    cands = leaderboard.candidates(kind)
    assert {c.family for c in cands} == families
    for c in cands:
        if c.experiment is not None:
            assert registry.entry(c.model).family == c.family
            config = leaderboard.run_config(c, "moons" if kind == "2d" else "digits", 10, 2, quick=True)
            assert config.model.name == c.model and config.train.steps == 10 and config.train.num_seeds == 2
            assert config.data.batch_size == leaderboard.BATCH_SIZE and config.train.lr == leaderboard.LR


def test_a_declaration_for_a_dataset_by_name_wins_over_its_kind():
    by_kind = {c.model: c.experiment for c in leaderboard.candidates("2d", "moons")}
    by_name = {c.model: c.experiment for c in leaderboard.candidates("2d", "8gaussians")}
    assert by_kind["ict"] == "ict_moons" and by_name["ict"] == "ict_8gaussians"
    assert by_name["nsf"] == by_kind["nsf"]  # a family without a per-dataset entry uses its kind's
    allowed = set(leaderboard.DATASETS) | set(leaderboard.DATASETS.values())
    for name, entry in registry.entries().items():
        assert set(entry.leaderboard) <= allowed, (name, entry.leaderboard)


def test_a_family_without_a_density_or_a_declaration_says_why():
    sampler_only = {"family": "gan", "model": "gan", "data": "moons", "experiment": "x", "nll": None,
                    "nll_se": math.nan, "bits_per_dim": None, "bits_per_dim_se": math.nan, "likelihood_kind": "none",
                    "w2": 0.3, "w2_se": 0.01, "w2_ratio": 1.5, "w2_ratio_se": 0.05, "nfe": math.nan,
                    "sample_seconds": 0.01, "train_seconds": 3.0, "steps": 10, "params": 100}
    undeclared = {"family": "bridge", "model": "sb", "data": "digits",
                  "note": "the family declares no leaderboard experiment for digits data"}
    table = leaderboard.markdown([sampler_only, undeclared], "head")
    assert "| gan / gan | no density | none |" in table
    assert "bridge / sb" in table and "declares no leaderboard experiment for digits data" in table
    short = leaderboard.summary([sampler_only, {**sampler_only, "data": "digits", "w2_ratio": 2.5}, undeclared], "head")
    assert "| gan / gan | none | no density | 1.5 ± 0.05 | no density | 2.5 ± 0.05 | 1 | 3 / 3 |" in short
    assert "| bridge / sb | — | — | — | not modelled | — | — | — / — |" in short


def test_bad_arguments_are_one_line_errors(capsys):
    assert cli.main(["leaderboard", "--data", "cifar10"]) == 2
    assert "--data cifar10: the leaderboard's datasets are" in capsys.readouterr().err
    assert cli.main(["leaderboard", "--budget", "hours=2"]) == 2
    assert "give steps=N or seconds=S" in capsys.readouterr().err
    assert cli.main(["leaderboard", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --bogus" in err


def _rows(tmp_path, name, *extra):
    work = tmp_path / name
    assert cli.main(["leaderboard", *TINY, *extra, "--workdir", str(work)]) == 0
    for name in ("leaderboard.md", "leaderboard_summary.md", "leaderboard.png"):
        assert (work / name).exists(), name
    return json.loads((work / "leaderboard.json").read_text())["rows"]


@pytest.mark.slow
def test_tiny_leaderboard_has_a_full_row_per_family_and_dataset_and_reproduces(tmp_path, capsys):
    rows = _rows(tmp_path, "a")
    families = {e.family for e in registry.entries().values()}
    for dataset in ("moons", "digits"):
        assert {r["family"] for r in rows if r["data"] == dataset} == families
    for r in rows:
        assert "failed" not in r.get("note", ""), r
        if "experiment" not in r:
            assert "declares no leaderboard experiment" in r["note"]
            continue
        for name in NUMERIC:
            assert math.isfinite(r[name]), (r["model"], name, r[name])
        assert r["steps"] == 4 and r["params"] > 0
        if r["likelihood_kind"] == "none":
            assert r["nll"] is None
        else:
            assert math.isfinite(r["nll"]) and r["likelihood_kind"] in ("exact", "bound", "estimate")
            if r["data"] == "digits":
                assert math.isfinite(r["bits_per_dim"])
    # the same seed, trained again from scratch, gives the same numbers (two families, to save time)
    again = {(r["data"], r["model"]): r for r in _rows(tmp_path, "b", "--families", "flows,flow_matching")}
    for r in rows:
        if "experiment" in r and r["family"] in ("flows", "flow_matching"):
            twin = again[(r["data"], r["model"])]
            for name in ("nll", "w2", "w2_floor", "params"):
                assert r[name] == twin[name], (r["model"], name)
