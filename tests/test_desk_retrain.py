"""Issue 19: a stable monitor and fresh retraining.

* the monitor's reference is the lineage's research backtest: a retrain on an unchanged live
  track changes neither the reference, nor the decay table, nor the verdict;
* feature drift judges the decision date's cross-section against the training window's own
  days: quiet on normal demo days, loud when the decision date alone is corrupted;
* a retrain trains on every label known at the as-of date, is never refused on a month's first
  days, and a past date is re-booked with the model the ledger recorded for it.
"""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import shutil
from datetime import date

import polars as pl
import pytest
from desk_helpers import (  # noqa: F401  (fixtures)
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
    tiny_config,
)

from alpha_core.base.settings import ConfigError
from alpha_core.data.panel import load_panel
from alpha_core.desk import monitor
from alpha_core.desk.service import DeskService, fresh_windows, training_horizon
from alpha_core.stats import drift

LIVE_DAYS = 12
AS_OF = date(2025, 5, 30)


def trading_dates(panel: pl.DataFrame) -> list[date]:
    return panel["date"].unique().sort().to_list()


@pytest.fixture(scope="module")
def retrained(tmp_path_factory, desk_registry, continued_panel):
    """A lineage with 12 live books (parent model), monitored, then retrained at 2025-05-30:
    ``(desk, run_id, child, before, entries)``."""
    service = fresh_copy(*desk_registry, tmp_path_factory.mktemp("retrained"))
    run_id = desk_registry[1]
    desk = DeskService(service.root)
    for day in trading_dates(continued_panel)[-LIVE_DAYS:]:
        assert desk.book(run_id, continued_panel, as_of=day).status == "appended"
    before = desk.monitor(run_id, continued_panel)
    entries = desk.ledger(run_id).entries
    child = desk.retrain(run_id, continued_panel)
    assert child is not None
    return desk, run_id, child, before, entries


# ----------------------------------------------------------------------------- the monitor
def test_monitor_reference_and_verdict_are_unchanged_by_a_retrain(retrained, continued_panel):
    desk, run_id, child, before, entries = retrained
    assert desk.lineage(run_id) == [run_id, child.run_id]
    assert desk.ledger(run_id).entries == entries  # the same live track
    after = desk.monitor(run_id, continued_panel)
    assert before.reference["run_id"] == after.reference["run_id"] == run_id
    assert before.reference == after.reference
    assert before.reference["n_days"] == desk.runs.table(run_id, "daily").height > 100
    assert before.decay.equals(after.decay)
    assert before.band.equals(after.band)
    assert set(before.decay["status"]) <= {"ok", "alert"}  # judged: 11 realised days
    assert (before.retrain, before.reasons) == (after.retrain, after.reasons)
    # the child's own test window is the as-of date alone: nothing to compare a track with
    assert desk.runs.table(child.run_id, "daily").height == 0


def test_cumulative_return_band_is_the_backtest_sum_over_the_live_days(retrained):
    _desk, _run_id, _child, before, _entries = retrained
    row = before.decay.filter(pl.col("metric") == "cumulative_return").row(0, named=True)
    n, ref = row["n_days"], before.reference
    assert n == LIVE_DAYS - 1 and row["live"] == pytest.approx(before.daily["long_short_net"].sum())
    assert row["backtest"] == pytest.approx(n * ref["mean_net"])
    half = 1.645 * ref["sd_net"] * n**0.5
    assert (row["lower"], row["upper"]) == pytest.approx((n * ref["mean_net"] - half,
                                                          n * ref["mean_net"] + half))  # fmt: skip
    assert before.band["lower"][-1] == pytest.approx(row["lower"])


# ----------------------------------------------------------------------------- retraining
def test_a_retrain_trains_on_every_label_known_at_the_as_of_date(retrained, continued_panel):
    _desk, _run_id, child, _before, _entries = retrained
    dates = trading_dates(continued_panel)
    assert dates[-1] == AS_OF
    config = child.config
    # close-to-close: the label of 05-28 ended 05-29, before the as-of date; the label of
    # 05-29 ends on the as-of date itself, the child's first decision: purged
    assert (config.train_start, config.train_end) == (date(2021, 1, 4), dates[-3])
    assert (config.test_start, config.test_end) == (AS_OF, AS_OF)
    assert child.models[-1].meta["train_end"] == str(dates[-3]) == "2025-05-28"
    assert child.folds["last_label_end"].max() == dates[-2]


def test_rebooking_a_past_date_after_a_retrain_reproduces_the_ledger(retrained, continued_panel):
    desk, run_id, child, _before, entries = retrained
    recorded = {e["as_of"]: e for e in entries}
    for day in trading_dates(continued_panel)[-3:]:  # the as-of date of the retrain among them
        book = desk.book(run_id, continued_panel, as_of=day)
        line = recorded[str(day)]
        assert book.status == "unchanged"
        assert book.model_sha256 == line["model_sha256"] and book.model == line["model"]
        assert book.model.startswith(f"{run_id}/")
        weights = {r["asset"]: r["weight"] for r in line["book"]}
        assert dict(zip(book.rows["asset"], book.rows["weight"], strict=True)) == weights
    assert desk.ledger(run_id).entries == entries
    # a date the ledger does not hold: the model in force then; after the retrain, the child
    later = load_panel("demo:2025-06-03")
    new = desk.book(run_id, later, as_of=date(2025, 6, 2), record=False)
    assert new.model == f"{child.run_id}/model"
    old = desk.book(run_id, later, as_of=date(2025, 5, 29), record=False)
    assert old.model_sha256 == recorded["2025-05-29"]["model_sha256"]


@pytest.fixture(scope="module")
def month_end_child(tmp_path_factory, desk_registry, continued_panel):
    """A lineage whose newest run was retrained on the last trading day of March 2025."""
    service = fresh_copy(*desk_registry, tmp_path_factory.mktemp("month_end"))
    run_id = desk_registry[1]
    march = continued_panel.filter(pl.col("date") <= date(2025, 3, 31))
    child = DeskService(service.root).retrain(run_id, march)
    assert child is not None and child.config.test_end == date(2025, 3, 31)
    return service, run_id, child


@pytest.mark.parametrize("day", [date(2025, 4, 1), date(2025, 4, 2)])
def test_a_monthly_retrain_on_the_first_days_of_a_month_succeeds(
    tmp_path, month_end_child, continued_panel, day
):
    """The parent's test window ended on the month's last day: the new month holds one or
    two dates, none or one of them with a realised label. The retrain still trains on every
    label known at ``day`` and serves from ``day``."""
    service, run_id, first_child = month_end_child
    root = tmp_path / "runs"
    shutil.copytree(service.root, root, ignore=shutil.ignore_patterns(".*"))
    desk = DeskService(root)
    panel = continued_panel.filter(pl.col("date") <= day)
    child = desk.retrain(run_id, panel, every="monthly")
    assert child is not None
    dates = trading_dates(panel)
    assert (child.config.test_start, child.config.test_end) == (day, day)
    assert child.models[-1].meta["train_end"] == str(dates[-3])
    assert desk.lineage(run_id) == [run_id, first_child.run_id, child.run_id]
    assert desk.book(run_id, panel, record=False).model == f"{child.run_id}/model"
    assert desk.retrain(run_id, panel, every="monthly") is None  # April is seen now


def test_fresh_windows_follow_the_label_horizon_the_embargo_and_a_rolling_window():
    dates = [date(2025, 1, 1 + i) for i in range(30)]
    base = tiny_config(train_start=dates[0], train_end=dates[10], test_start=dates[12],
                       test_end=dates[15])  # fmt: skip
    assert training_horizon(base) == 1
    assert fresh_windows(base, dates).train_end == dates[-3]
    opens = base.replace(label="open_to_open")
    assert training_horizon(opens) == 2 and fresh_windows(opens, dates).train_end == dates[-4]
    longer = base.replace(target_horizon=5, embargo_days=2)
    assert training_horizon(longer) == 5
    assert fresh_windows(longer, dates).train_end == dates[29 - 2 - 5 - 1]
    rolling = base.replace(window="rolling", window_days=20)
    got = fresh_windows(rolling, dates)
    assert (got.train_start, got.train_end) == (dates[8], dates[27])
    valid = base.replace(valid_start=dates[5], valid_end=dates[8])
    got = fresh_windows(valid, dates)  # moved forward with the window's end (10 -> 27)
    assert (got.valid_start, got.valid_end) == (dates[22], dates[25])
    for config in (base, rolling, longer, valid):
        fresh_windows(config, dates).validate()
    with pytest.raises(ConfigError, match="no training label ends before"):
        fresh_windows(base.replace(embargo_days=28), dates)


def test_an_impossible_retrain_is_refused_before_any_training(
    tmp_path, desk_registry, continued_panel
):
    service = fresh_copy(*desk_registry, tmp_path)
    run_id = desk_registry[1]
    panel = continued_panel
    trained = []
    service.train_and_save = lambda *a, **k: trained.append(1)  # never reached
    desk = DeskService(service.root)
    desk.runs = service
    two_days = panel.filter(pl.col("date").is_between(date(2025, 5, 29), date(2025, 5, 30)))
    with pytest.raises(ConfigError, match="cannot retrain at 2025-05-30"):
        desk.retrain(run_id, two_days)  # no label of these two days is known before 05-30
    assert trained == []


# ----------------------------------------------------------------------------- drift
@pytest.fixture(scope="module")
def drift_inputs(desk_registry, continued_panel):
    service, run_id = desk_registry
    model = DeskService(service.root).desk_models(run_id)[-1]
    feats, columns = monitor.model_inputs(continued_panel, service.config(run_id), model)
    settings = monitor.MonitorSettings().drift
    reference = monitor.training_days(feats, model)
    refs = drift.day_references(reference, columns, settings)
    return service, run_id, model, feats, columns, reference, refs, settings


def test_drift_is_quiet_on_normal_days(drift_inputs):
    _service, _run_id, _model, feats, columns, reference, refs, settings = drift_inputs
    days = feats["date"].unique().sort().tail(50).to_list()  # 2025-03-20 .. 2025-05-30
    alerts = []
    for day in days:
        table = drift.day_drift(reference, feats.filter(pl.col("date") == day), columns,
                                settings, references=refs)  # fmt: skip
        assert table["feature"].to_list() == columns
        if drift.drift_alert(table, settings):
            alerts.append(day)
    assert len(alerts) <= 3, alerts


def corrupt_last_day(panel: pl.DataFrame, **columns: pl.Expr) -> pl.DataFrame:
    last = pl.col("date") == panel["date"].max()
    return panel.with_columns(
        pl.when(last).then(expr).otherwise(pl.col(name)).alias(name)
        for name, expr in columns.items()
    )


def test_drift_is_loud_when_the_decision_date_alone_is_corrupted(drift_inputs, continued_panel):
    service, run_id, model, _feats, _columns, _reference, _refs, settings = drift_inputs
    config = service.config(run_id)
    ms = monitor.MonitorSettings()
    clean, day = monitor.input_drift(continued_panel, config, model, ms)
    assert day == AS_OF and not drift.drift_alert(clean, settings)

    prices = {c: pl.col(c) * 10 for c in ("open", "high", "low", "close")}
    tenfold, _ = monitor.input_drift(corrupt_last_day(continued_panel, **prices), config, model,
                                     ms)  # fmt: skip
    assert drift.drift_alert(tenfold, settings)
    alerted = set(tenfold.filter(pl.col("status") == "alert")["feature"])
    assert {"ln_ret_1", "mom_5", "mom_20", "gap_pc", "price_sma20_dev"} <= alerted

    # the overnight gap zeroed: every open on the last day is the previous close
    previous = pl.col("close").shift(1).over("asset")  # the panel is sorted by asset, date
    zeroed_panel = corrupt_last_day(continued_panel.sort("asset", "date"), open=previous)
    zeroed, _ = monitor.input_drift(zeroed_panel, config, model, ms)
    row = zeroed.filter(pl.col("feature") == "gap_pc").row(0, named=True)
    assert row["status"] == "alert" and row["scale"] == float("inf")
    assert drift.drift_alert(zeroed, settings)
    assert set(zeroed.filter(pl.col("status") == "alert")["feature"]) == {"gap_pc"}

    report = DeskService(service.root).monitor(run_id, zeroed_panel)
    reason = report.reasons[0]
    assert report.retrain and reason.startswith("feature drift: ")
    assert "gap_pc (alert: scale inf" in reason
