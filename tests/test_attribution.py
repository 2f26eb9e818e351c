"""Attribution: the daily parts add up to the net P&L, and the factor parts are the book's
exposures times the next day's factor returns (checked against a loop over the books)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from alpha_core.config import ModelParams, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.evaluation.attribution import KINDS, attribution, factor_kind
from alpha_core.portfolio.risk import estimate_risk
from alpha_core.research.pipeline import run_experiment


@pytest.fixture(scope="module")
def run_and_risk():
    panel = load_panel("demo")
    config = RunConfig(
        train_start=date(2021, 1, 4),
        test_start=date(2025, 1, 2),
        model=ModelParams(n_estimators=20, num_leaves=8, max_depth=4),
        cost_bps=5.0,
        borrow_bps=30.0,
    )
    return run_experiment(config, panel), estimate_risk(panel, config)


def test_parts_sum_to_the_net_pnl_every_day(run_and_risk):
    result, _ = run_and_risk
    table = result.attribution
    assert table.height == result.daily.height
    total = sum(table[k].to_numpy() for k in KINDS)
    np.testing.assert_allclose(total, result.daily["long_short_net"].to_numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(-table["cost"].to_numpy(), result.daily["cost"].to_numpy())
    assert result.metrics["attr_cost_annual"] < 0


def test_factor_parts_are_exposure_times_the_next_factor_return(run_and_risk):
    result, risk = run_and_risk
    table = attribution(result.books, result.daily, risk)
    dates = list(risk.dates.astype("datetime64[D]").astype(object))
    for k, day in enumerate(table["date"].to_list()[:25]):
        t = dates.index(day)
        book = result.books.filter(pl.col("date") == day)
        expected = dict.fromkeys(("market", "sector", "style"), 0.0)
        for asset, weight in book.select("asset", "weight").iter_rows():
            j = risk.assets.index(asset)
            if not risk.covered[t, j]:
                continue
            for f, factor in enumerate(risk.factors):
                ret = risk.factor_returns[t + 1, f]
                expected[factor_kind(factor)] += (
                    weight * risk.exposures[t, j, f] * (0.0 if np.isnan(ret) else ret)
                )
        for kind, value in expected.items():
            assert table[kind][k] == pytest.approx(value, abs=1e-12), (day, kind)


def test_predicted_volatility_is_the_books_risk_model_volatility(run_and_risk):
    result, risk = run_and_risk
    day = result.daily["date"][10]
    book = result.books.filter(pl.col("date") == day)
    snap = risk.at(day)
    w = np.zeros(len(snap.assets))
    for asset, weight in book.select("asset", "weight").iter_rows():
        if asset in snap.assets:
            w[snap.assets.index(asset)] = weight
    row = result.attribution.filter(pl.col("date") == day)
    assert row["predicted_vol"][0] == pytest.approx(np.sqrt(w @ snap.cov() @ w), rel=1e-9)


def test_a_run_reports_every_attribution_metric(run_and_risk):
    from alpha_core.evaluation.attribution import METRIC_KEYS

    result, _ = run_and_risk
    assert all(result.metrics[k] is not None for k in METRIC_KEYS)
