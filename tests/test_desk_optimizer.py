"""Optimised runs: the desk trades what was backtested, and the books obey their limits.

For every date of the test window, the desk's book (the run's saved model, the risk model
and traded values of the bars up to that date, the book held the day before restored from
the run) equals the backtest's book to 1e-9, walk-forward folds included.
"""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from desk_helpers import demo_panel, tiny_config  # noqa: F401

from alpha_core.base.settings import ConfigError
from alpha_core.desk.service import DeskService
from alpha_core.runs.service import RunService


def optimised(**changes):
    return tiny_config(
        construction="optimizer", test_start=date(2025, 1, 2), max_weight=0.06, **changes
    )


@pytest.fixture(scope="module")
def optimised_run(tmp_path_factory, demo_panel):
    service = RunService(tmp_path_factory.mktemp("optimised"))
    result = service.train_and_save(optimised(walk_forward="monthly"), demo_panel, explain=False)
    return service, result


def test_desk_book_equals_the_backtest_on_every_test_date(optimised_run, demo_panel):
    service, result = optimised_run
    desk = DeskService(service.root)
    dates = result.books["date"].unique().sort().to_list()
    assert len(dates) == 61
    for day in dates:
        book = desk.book(result.run_id, demo_panel, as_of=day, record=False)
        mine = book.rows.select("asset", "side", "weight").sort("asset")
        theirs = result.books.filter(pl.col("date") == day).select("asset", "side", "weight")
        theirs = theirs.sort("asset")
        assert mine["asset"].to_list() == theirs["asset"].to_list(), day
        assert mine["side"].to_list() == theirs["side"].to_list(), day
        np.testing.assert_allclose(mine["weight"], theirs["weight"], atol=1e-9, rtol=0)


def test_optimised_books_obey_their_limits(optimised_run):
    _, result = optimised_run
    by_day = result.books.group_by("date").agg(
        pl.col("weight").sum().alias("net"),
        pl.col("weight").abs().sum().alias("gross"),
        pl.col("weight").abs().max().alias("largest"),
    )
    assert by_day["net"].abs().max() < 1e-6  # dollar-neutral by default
    assert by_day["gross"].max() <= 2.0 + 1e-6
    assert by_day["largest"].max() <= 0.06 + 1e-6
    assert result.metrics["optimizer_fallback_days"] == 0
    assert result.metrics["valid_rank_ic"] > 0


def test_costs_make_the_optimiser_trade_less(demo_panel, tmp_path):
    """The trade aversion prices the modelled cost: a dearer market is traded less."""
    service = RunService(tmp_path)
    cheap = service.train(optimised(cost_bps=1.0), demo_panel)
    dear = service.train(optimised(cost_bps=15.0), demo_panel)
    assert dear.daily["turnover"].mean() < 0.5 * cheap.daily["turnover"].mean()


def test_a_market_too_dear_to_trade_is_refused_by_name(demo_panel, tmp_path):
    with pytest.raises(ConfigError, match="the optimiser held no long position") as err:
        RunService(tmp_path).train(optimised(cost_bps=500.0), demo_panel)
    assert err.value.field == "construction"


def test_rank_only_settings_are_refused_with_the_optimiser():
    with pytest.raises(ConfigError, match="hold_buffer shape rank books only") as err:
        optimised(hold_buffer=0.1).validate()
    assert err.value.field == "hold_buffer"


@pytest.mark.parametrize(
    "turnover",
    [
        {"smooth_days": 3, "hold_buffer": 0.1},
        {"rebalance_every": 3},
        {"max_turnover": 0.6, "hold_buffer": 0.05},
    ],
    ids=["smooth+buffer", "rebalance", "cap+buffer"],
)
def test_desk_replays_path_dependent_rank_books_on_every_test_date(tmp_path, demo_panel, turnover):
    """Rank books whose turnover control needs the days before: the desk replays the run's
    predictions up to the decision date and gets the backtest's book on every test date."""
    service = RunService(tmp_path)
    config = tiny_config(test_start=date(2025, 2, 3), walk_forward="monthly", **turnover)
    result = service.train_and_save(config, demo_panel, explain=False)
    desk = DeskService(service.root)
    for day in result.books["date"].unique().sort().to_list():
        book = desk.book(result.run_id, demo_panel, as_of=day, record=False)
        mine = book.rows.select("asset", "side", "weight").sort("asset")
        theirs = result.books.filter(pl.col("date") == day).select("asset", "side", "weight")
        theirs = theirs.sort("asset")
        assert mine["asset"].to_list() == theirs["asset"].to_list(), day
        assert mine["side"].to_list() == theirs["side"].to_list(), day
        np.testing.assert_allclose(mine["weight"], theirs["weight"], atol=1e-12, rtol=0)
