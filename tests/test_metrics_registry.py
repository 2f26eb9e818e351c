"""The one registry of metrics: every computed key is registered, a registered metric reaches the
CLI summary and the app tables, and the prediction statistics are a pure function."""

from __future__ import annotations

import dataclasses
import math

import polars as pl
import pytest
from test_report_stats import _daily, random_preds

from alpha_core.config import RunConfig
from alpha_core.evaluation import metrics as metrics_module
from alpha_core.evaluation import report
from alpha_core.evaluation.metrics import METRICS, Metric, compute_metrics, prediction_stats
from alpha_core.evaluation.report import (
    format_value,
    metrics_comparison,
    metrics_table,
    performance_summary,
)
from alpha_core.research.pipeline import rebook


@pytest.fixture(scope="module")
def run_metrics() -> dict:
    """Metrics as a run computes them: books with limits, costs, folds, model meta."""
    cfg = RunConfig(cost_bps=5, borrow_bps=30, max_weight=0.2, n_trials=4)
    meta = {"train_rmse": 0.02, "n_train_rows": 1234, "n_folds": 2}
    _, _, metrics = rebook(random_preds(), cfg, meta)
    return metrics


def table_dict(frame: pl.DataFrame) -> dict[str, str]:
    return dict(zip(frame["metric"], frame["value"], strict=True))


def summary_cells(text: str) -> dict[str, list[str]]:
    """Label -> [label, measured, claim, benchmark] of every table row of the summary."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()]
    return {r[0]: r for r in rows if len(r) == 4}


def test_every_computed_key_has_a_registry_entry(run_metrics):
    missing = sorted(set(run_metrics) - set(METRICS))
    assert not missing, f"metrics without a registry entry: {missing}"


def test_every_summary_entry_is_a_computed_key_or_derived(run_metrics):
    from alpha_core.evaluation.attribution import METRIC_KEYS  # a run's, not a rebook's

    for m in METRICS.values():
        assert m.derive is not None or m.key in run_metrics or m.key in METRIC_KEYS, m.key
        assert m.kind in (*report.FORMATS, "text"), m.key
        if m.benchmark is not None:
            assert m.benchmark in run_metrics, m.key


def test_summary_shows_each_summary_metric_with_its_claim_and_benchmark(run_metrics):
    text = performance_summary(run_metrics, "toy data")
    assert text.splitlines()[0] == "Performance Summary (toy data)"
    cells = summary_cells(text)
    sharpe = cells["Sharpe ratio (long-short, annualised)"]
    assert sharpe[1] == f"{run_metrics['sharpe']:.2f}"
    assert sharpe[2] == "1.37"
    assert sharpe[3] == f"{run_metrics['benchmark_sharpe']:.2f}"
    assert cells["Training rows"][1:3] == ["1,234", "385,394"]
    assert cells["Max drawdown"][2] == "-18.36%"
    assert cells["Daily positions (long + short)"][1] == (
        f"{run_metrics['avg_long_positions'] + run_metrics['avg_short_positions']:.2f}"
    )
    assert cells["Daily positions (long + short)"][2] == "~28"
    assert cells["DSR, 4 trial(s) (deflated Sharpe ratio)"][1] == f"{run_metrics['dsr']:.2%}"
    shown = {m.title(run_metrics) for m in METRICS.values() if m.summary}
    assert shown <= set(cells)
    hidden = [m.title(run_metrics) for m in METRICS.values() if not m.summary]
    assert not set(hidden) & set(cells)
    assert "(2 walk-forward folds)" in text


def test_a_toy_metric_registered_once_reaches_the_summary_and_the_app_tables(
    monkeypatch, run_metrics
):
    toy = Metric("toy_ratio", "Toy ratio", "num4", group="Toys", claim=0.5, summary=True)
    monkeypatch.setitem(METRICS, toy.key, toy)  # the one place a metric is registered
    metrics = {**run_metrics, "toy_ratio": 0.123456}

    text = performance_summary(metrics)
    assert summary_cells(text)["Toy ratio"] == ["Toy ratio", "0.1235", "0.5000", ""]
    assert summary_cells(text)["Toys"] == ["Toys", "", "", ""]  # its own section

    table = metrics_table(metrics)
    assert table_dict(table)["Toy ratio"] == "0.1235"
    assert "toy_ratio" not in table["metric"].to_list()  # not in the unknown-keys tail
    compare = metrics_comparison({"a": metrics, "b": {**metrics, "toy_ratio": None}})
    toy = compare.filter(pl.col("metric") == "Toy ratio")
    assert toy.rows() == [("Toy ratio", "0.1235", "n/a")]


def test_unregistered_keys_are_still_shown_after_the_registry(run_metrics):
    table = metrics_table({**run_metrics, "zz_new": 0.5, "aa_note": "x"})
    assert table["metric"].to_list()[-2:] == ["aa_note", "zz_new"]
    assert table_dict(table)["zz_new"] == "0.5000"
    assert table.height == len(METRICS) + 2


def test_comparison_fills_a_label_only_when_runs_agree(run_metrics):
    same = metrics_comparison({"a": run_metrics, "b": run_metrics})
    assert "DSR, 4 trial(s) (deflated Sharpe ratio)" in same["metric"].to_list()
    differ = metrics_comparison({"a": run_metrics, "b": {**run_metrics, "n_trials": 9}})
    assert "DSR, n trial(s) (deflated Sharpe ratio)" in differ["metric"].to_list()


def test_min_track_record_never_reached_is_explained():
    metrics = {"sharpe": -0.4, "min_trl": None, "sharpe_net": 0.5, "min_trl_net": 300.0}
    text = performance_summary(metrics)
    assert "Minimum track record (gross): never, the Sharpe ratio is <= 0." in text
    assert "(net)" not in text.splitlines()[-1]


def test_prediction_stats_are_pure_and_reused_by_compute_metrics():
    preds = random_preds()
    daily = _daily(preds)
    first, second = prediction_stats(preds), prediction_stats(preds.clone())
    # equal up to float summation order: quantile_returns and ic_decay average over dates in
    # polars group_by order, which varies between calls (as on main before this change)
    assert second.metrics == pytest.approx(first.metrics, rel=1e-12, abs=0)
    assert second.quantiles.equals(first.quantiles.with_columns(second.quantiles["mean_return"]))
    assert second.quantiles["mean_return"].to_list() == pytest.approx(
        first.quantiles["mean_return"].to_list(), rel=1e-12
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.metrics = {}  # type: ignore[misc]
    assert not hasattr(report, "_PRED_CACHE") and not hasattr(metrics_module, "_PRED_CACHE")

    plain = compute_metrics(daily, preds, {}, seed=1)
    given = compute_metrics(daily, preds, {}, seed=1, pred_stats=first)
    assert list(given) == list(plain)  # same keys, same order
    assert given == {**plain, **first.metrics}  # bit for bit, the given statistics as they are
    doctored = dataclasses.replace(first, metrics={**first.metrics, "test_rmse": 99.0})
    assert compute_metrics(daily, preds, {}, pred_stats=doctored)["test_rmse"] == 99.0
    assert plain["test_rmse"] != 99.0


def test_one_ic_summary_for_daily_ic_and_ic_decay():
    preds = random_preds()
    # IC decay at horizon h from fwd_ret_h equals the rank IC of a frame whose label is fwd_ret_h
    table = metrics_module.ic_decay(preds, horizons=(1,))
    as_label = preds.with_columns(pl.col("fwd_ret_1").alias("label"))
    ic = metrics_module.ic_metrics(metrics_module.daily_ic(as_label))
    assert table["rank_ic_mean"][0] == pytest.approx(ic["rank_ic_mean"])
    assert table["rank_ic_ir"][0] == pytest.approx(ic["rank_ic_ir"])
    mean, ir, n = metrics_module.ic_summary(pl.Series([0.1, None, 0.3]))
    assert (mean, n) == (pytest.approx(0.2), 2)
    assert ir == pytest.approx(0.2 / math.sqrt(0.02))
    assert math.isnan(metrics_module.ic_summary(pl.Series([0.1]))[1])


def test_format_value_of_a_registered_kind():
    assert format_value(0.1234, METRICS["total_return"].kind) == "12.34%"
    assert format_value(385394, METRICS["n_train_rows"].kind) == "385,394"
