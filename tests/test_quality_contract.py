"""The new quality checks, the inferred calendar and the data contract, on hand-made panels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from conftest import business_days, make_panel

from alpha_core.config import ConfigError, RunConfig
from alpha_core.data.panel import PanelError, load_panel
from alpha_core.data.quality import (
    BAD_BAR_CHECKS,
    CHECKS,
    CalendarError,
    bad_bars,
    check_quality,
    infer_calendar,
    stray_bars,
)
from alpha_core.data.settings import BAD_BAR_POLICIES
from alpha_core.features.library import FEATURE_NAMES
from alpha_core.research.contract import (
    apply_contract,
    metrics_of,
    unusable_features,
)
from alpha_core.research.contract import (
    test_losses as losses_of,
)

D1, D2 = dt.date(2024, 1, 2), dt.date(2024, 1, 3)


def bar(**values: float | None) -> pl.DataFrame:
    row = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 100.0, **values}
    return pl.DataFrame({"date": [D1], "asset": ["A"], **{k: [v] for k, v in row.items()}})


# --------------------------------------------------------------------------- new checks
def test_infinite_values_are_named_as_such_and_nothing_else():
    report = check_quality(bar(close=float("inf"), volume=float("-inf")))
    assert report.issues.select("check", "detail").rows() == [
        ("non_finite", "close, volume infinite")
    ]
    assert report.summary_lines() == ["1 row with infinite values, e.g. A 2024-01-02"]


def test_negative_volume_is_a_bad_bar_zero_volume_is_not():
    assert check_quality(bar(volume=-5.0)).issues.select("check", "detail").rows() == [
        ("negative_volume", "volume -5.0")
    ]
    zero = check_quality(bar(volume=0.0))
    assert zero.counts()["zero_volume"] == 1 and bad_bars(zero).height == 0
    assert "zero_volume" not in BAD_BAR_CHECKS and set(BAD_BAR_CHECKS) <= set(CHECKS)


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ({"high": 10.5 * (1 - 1e-12)}, 0),  # adjustment rounding: within the tolerance
        ({"high": 10.5 * (1 - 1e-4)}, 1),  # a real high below the close
        ({"low": 10.0 * (1 + 1e-13), "open": 10.0}, 0),
        ({"low": 10.0 * (1 + 1e-3), "open": 10.0}, 1),
        ({"high": 8.0}, 1),  # high below low
        ({"high": 1e9 * (1 - 1e-13), "close": 1e9, "open": 1e9, "low": 1e9}, 0),  # relative
    ],
)
def test_ohlc_order_has_a_relative_tolerance(values, flagged):
    assert check_quality(bar(**values)).counts()["ohlc_out_of_order"] == flagged


def test_stray_bars_weekend_and_thin_dates():
    panel = make_panel(n_assets=8, n_days=30)
    saturday = dt.date(2020, 1, 11)
    weekend = panel.filter(pl.col("asset") == "A03").head(1).with_columns(date=pl.lit(saturday))
    holiday = business_days(dt.date(2020, 1, 1), 30)[12]  # Friday 17 January
    assert holiday == dt.date(2020, 1, 17)
    thin = panel.filter((pl.col("date") != holiday) | pl.col("asset").is_in(["A00"]))
    found = stray_bars(pl.concat([thin, weekend]))
    assert found.select("asset", "date").rows() == [("A00", holiday), ("A03", saturday)]
    assert found["detail"].to_list() == [
        "1 of 8 listed assets trade on this Friday",
        "1 of 8 listed assets trade on this Saturday",
    ]
    assert stray_bars(panel).height == 0


def test_a_new_listing_is_not_stray():
    # A asset i starts 3 bars late: early dates have few assets, but all that are listed
    assert stray_bars(make_panel(n_assets=8, n_days=40, stagger=3)).height == 0


# --------------------------------------------------------------------------- calendar
@pytest.mark.parametrize(
    ("dates", "described", "periods"),
    [
        (business_days(dt.date(2020, 1, 1), 300), "daily bars, weekdays (252 a year)", 252),
        (
            [dt.date(2020, 1, 1) + dt.timedelta(days=k) for k in range(300)],
            "daily bars, every day (365 a year)",
            365,
        ),
        (
            [dt.date(2020, 1, 3) + dt.timedelta(weeks=k) for k in range(100)],
            "weekly bars (52 a year)",
            52,
        ),
        (
            [dt.date(2000 + k // 12, 1 + k % 12, 28) for k in range(60)],
            "monthly bars (12 a year)",
            12,
        ),
        ([D1], "daily bars, weekdays (252 a year)", 252),
    ],
)
def test_calendar_is_inferred_from_the_dates(dates, described, periods):
    calendar = infer_calendar(dates)
    assert (calendar.describe(), calendar.periods_per_year) == (described, periods)


def test_a_few_weekend_bars_do_not_make_a_seven_day_calendar():
    days = business_days(dt.date(2020, 1, 1), 200) + [dt.date(2020, 1, 4), dt.date(2020, 2, 1)]
    assert infer_calendar(days).periods_per_year == 252


def test_irregular_dates_are_refused():
    quarterly = [dt.date(2000 + k // 4, 1 + 3 * (k % 4), 1) for k in range(20)]
    with pytest.raises(CalendarError, match=r"91 days apart \(median\)"):
        infer_calendar(quarterly)


# --------------------------------------------------------------------------- the contract
def run_config(panel: pl.DataFrame, **changes) -> RunConfig:
    dates = panel["date"].unique().sort().to_list()
    return RunConfig(
        train_start=dates[0], train_end=dates[40], test_start=dates[42], test_end=dates[-1]
    ).replace(**changes)


def with_bad_bars() -> pl.DataFrame:
    panel = make_panel(n_assets=5, n_days=60)
    day = panel["date"].unique().sort()[50]
    hit = (pl.col("date") == day) & pl.col("asset").is_in(["A01", "A03"])
    return panel.with_columns(pl.when(hit).then(-1.0).otherwise(pl.col("close")).alias("close"))


def test_policies_are_the_settings_choices():
    assert tuple(BAD_BAR_POLICIES) == ("refuse", "drop", "keep")
    assert RunConfig().on_bad_bars == "refuse"
    with pytest.raises(ConfigError, match="on_bad_bars must be one of"):
        RunConfig(on_bad_bars="ignore").validate()


def test_refuse_names_the_count_first_bar_and_the_way_out():
    panel = with_bad_bars()
    with pytest.raises(PanelError) as info:
        apply_contract(run_config(panel), panel, FEATURE_NAMES)
    day = panel["date"].unique().sort()[50]
    assert str(info.value).startswith(
        f"the data has 2 bad bars (2 rows with non-positive prices); the first is A01 {day} "
        "(close <= 0). Fix the data, or set on_bad_bars to drop (--on-bad-bars drop)"
    )


def test_drop_removes_exactly_the_bad_bars_and_keep_keeps_them():
    panel = with_bad_bars()
    dropped, contract = apply_contract(run_config(panel, on_bad_bars="drop"), panel, ())
    assert panel.height - dropped.height == 2 == contract.bad_bars_dropped
    assert dropped.filter(pl.col("close") <= 0).height == 0
    kept, contract = apply_contract(run_config(panel, on_bad_bars="keep"), panel, ())
    assert kept.equals(panel) and (contract.bad_bars, contract.bad_bars_dropped) == (2, 0)
    assert metrics_of(contract.to_meta())["bad_bars_dropped"] == 0


def test_features_needing_absent_columns_are_left_out_and_named():
    panel = make_panel(n_assets=3, n_days=60).drop("volume", "open")
    assert unusable_features(FEATURE_NAMES, panel) == {"vol_z_20": "volume", "gap_pc": "open"}
    _, contract = apply_contract(run_config(panel), panel, FEATURE_NAMES)
    assert metrics_of(contract.to_meta())["features_dropped"] == (
        "vol_z_20 (no volume), gap_pc (no open)"
    )
    with pytest.raises(PanelError, match="no feature can be computed: vol_z_20 needs volume"):
        unusable_features(("vol_z_20",), panel)


def test_a_group_setting_without_its_column_is_refused():
    panel = make_panel(n_assets=3, n_days=60).drop("sector")
    with pytest.raises(ConfigError, match="sector_neutral needs a 'sector' column") as info:
        apply_contract(run_config(panel, sector_neutral=True), panel, ())
    assert info.value.field == "sector_neutral"
    grouped = run_config(panel, sector_neutral=True, limit_group="asset_class")
    apply_contract(grouped, panel, ())  # asset_class is there: fine


def test_test_losses_count_bars_and_dates_without_a_prediction():
    panel = make_panel(n_assets=3, n_days=60)
    config = run_config(panel)
    window = panel.filter(pl.col("date") >= config.test_start)
    last = window["date"].max()
    preds = window.filter(pl.col("date") != last).filter(
        ~((pl.col("asset") == "A00") & (pl.col("date") == config.test_start))
    )
    assert losses_of(panel, preds, config) == {
        "test_bars": window.height,
        "test_rows_lost": 3 + 1,
        "test_dates_lost": 1,
    }


# --------------------------------------------------------------------------- parsing
def test_ambiguous_day_month_reads_the_daily_order(tmp_path: Path):
    # 02/01, 03/01, 06/01: day/month is three consecutive trading days in January,
    # month/day would be Feb 1, Mar 1, Jun 1
    src = tmp_path / "dm.csv"
    src.write_text("date,asset,close\n02/01/2024,A,1\n03/01/2024,A,2\n06/01/2024,A,3\n")
    assert load_panel(src)["date"].to_list() == [D1, D2, dt.date(2024, 1, 6)]


def test_a_rebook_keeps_the_runs_calendar_single_and_walk_forward(tmp_path: Path):
    from alpha_core.config import ModelParams
    from alpha_core.research.pipeline import run_experiment
    from alpha_core.runs.service import RunService

    weekly = [dt.date(2015, 1, 2) + dt.timedelta(weeks=k) for k in range(120)]
    panel = make_panel(n_assets=8, n_days=120, seed=5)
    days = dict(zip(business_days(dt.date(2020, 1, 1), 120), weekly, strict=True))
    panel = panel.with_columns(pl.col("date").replace_strict(days))
    tiny = ModelParams(n_estimators=5, num_leaves=4, min_data_in_leaf=5)
    base = run_config(panel, model=tiny)
    service = RunService(tmp_path)
    for config in (base, base.replace(walk_forward="days", retrain_days=20)):
        result = run_experiment(config, panel)
        assert result.metrics["calendar"] == "weekly bars (52 a year)"
        rebooked = service.rebook(result, long_pct=0.3)
        assert rebooked.metrics["periods_per_year"] == 52
        r = rebooked.daily["long_short"].to_numpy()
        assert rebooked.metrics["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * 52**0.5)
