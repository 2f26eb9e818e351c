"""Runs saved before the renovation (flat modules, config.json without a version) still
list, load, rebook, reproduce and book on the desk.

``tests/fixtures/runs_v1`` holds two runs written by the engine at commit 0c57844 (before
the stage packages) on ``make_panel(n_assets=12, n_days=320, seed=17)``: one single-model
run and one monthly walk-forward run with smoothing, a hold buffer and 5 bps of cost.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from conftest import make_panel
from polars.testing import assert_frame_equal

from alpha_core.config import CONFIG_VERSION, RunConfig
from alpha_core.desk.service import DeskService
from alpha_core.research.pipeline import run_experiment
from alpha_core.runs.registry import list_runs, load_run, scan_runs
from alpha_core.runs.service import RunService

FIXTURE = Path(__file__).parent / "fixtures" / "runs_v1"
SINGLE = "20261207-223531-724110-6248e7"
WALK_FORWARD = "20261207-223532-022617-c7ed97"


@pytest.fixture
def root(tmp_path) -> Path:
    out = tmp_path / "runs"
    shutil.copytree(FIXTURE, out)
    return out


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return make_panel(n_assets=12, n_days=320, seed=17)


def test_old_runs_list_without_damage(root):
    listing = scan_runs(root)
    assert not listing.damaged
    assert {info.run_id for info in list_runs(root)} == {SINGLE, WALK_FORWARD}


@pytest.mark.parametrize("run_id", [SINGLE, WALK_FORWARD])
def test_old_runs_load_and_keep_their_metrics(root, run_id):
    raw = json.loads((root / run_id / "config.json").read_text())
    assert "version" not in raw  # written before config versions
    result = load_run(run_id, root)
    assert result.config == RunConfig.from_dict(raw)
    assert result.config.to_dict()["version"] == CONFIG_VERSION
    assert result.metrics == json.loads((root / run_id / "metrics.json").read_text())


@pytest.mark.parametrize("run_id", [SINGLE, WALK_FORWARD])
def test_old_runs_rebook_to_their_own_books(root, run_id):
    result = load_run(run_id, root)
    rebooked = RunService(root).rebook(result)
    assert rebooked.books.equals(result.books)
    # turnover is summed in another order when rebooking (as before the move): 1e-16 apart
    assert_frame_equal(rebooked.daily, result.daily, check_exact=False, rel_tol=0, abs_tol=1e-12)


@pytest.mark.parametrize("run_id", [SINGLE, WALK_FORWARD])
def test_old_configs_reproduce_their_predictions(root, panel, run_id):
    result = load_run(run_id, root)
    again = run_experiment(result.config, panel)
    assert again.predictions.equals(result.predictions)
    assert again.books.equals(result.books)


def test_old_run_books_on_the_desk(root, panel):
    result = load_run(SINGLE, root)
    last = result.books["date"].max()
    book = DeskService(root).book(SINGLE, panel, as_of=last, record=False)
    mine = book.rows.select("asset", "side", "weight").sort("asset")
    theirs = result.books.filter(pl.col("date") == last).select("asset", "side", "weight")
    assert mine.equals(theirs.sort("asset"))
