"""Report statistics against independent computations: quantile returns, IC decay, forward
returns, gross/net risk metrics, alpha/beta, hit rate, and the summary table."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from conftest import make_panel
from scipy.stats import rankdata, spearmanr

from alpha_core.evaluation.metrics import compute_metrics, hit_rate, ic_decay, quantile_returns
from alpha_core.evaluation.report import performance_summary
from alpha_core.signals.predictions import forward_returns
from alpha_core.stats import returns as stats


def random_preds(n_assets: int = 23, n_days: int = 40, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dates = [dt.date(2023, 1, 2) + dt.timedelta(days=i) for i in range(n_days)]
    n = n_assets * n_days
    pred = rng.normal(size=n)
    label = 0.01 * pred + rng.normal(0, 0.02, n)
    frame = pl.DataFrame(
        {
            "date": [d for d in dates for _ in range(n_assets)],
            "asset": [f"A{i}" for i in range(n_assets)] * n_days,
            "prediction": pred,
            "label": label,
        }
    )
    for h in (1, 2, 5, 10, 20):
        fwd = 0.004 * pred / h + rng.normal(0, 0.02, n)
        fwd[rng.random(n) < 0.1] = np.nan  # some forward returns unknown
        frame = frame.with_columns(pl.Series(f"fwd_ret_{h}", fwd).fill_nan(None))
    return frame


def test_quantile_returns_against_a_direct_loop():
    preds = random_preds()
    table = quantile_returns(preds)
    per_q: dict[int, list[float]] = {q: [] for q in range(1, 6)}
    for _date, day in preds.group_by("date"):
        p, y = day["prediction"].to_numpy(), day["label"].to_numpy()
        pct = (rankdata(p) - 0.5) / p.size
        q = np.minimum(np.floor(pct * 5).astype(int), 4) + 1
        for k in range(1, 6):
            if (q == k).any():
                per_q[k].append(float(y[q == k].mean()))
    expected = [np.mean(per_q[k]) for k in range(1, 6)]
    np.testing.assert_allclose(table["mean_return"].to_numpy(), expected)
    assert table["quantile"].to_list() == [1, 2, 3, 4, 5]
    assert table["n_days"].to_list() == [40] * 5
    metrics = compute_metrics(_daily(preds), preds, {})
    assert metrics["quantile_spread"] == pytest.approx(expected[4] - expected[0])
    assert metrics["q3_return"] == pytest.approx(expected[2])


def test_prediction_statistics_are_the_same_bits_on_every_call_and_row_order():
    """Averages over dates follow a fixed order, not polars' group order (which varies)."""
    preds = random_preds(n_assets=60, n_days=300)
    first_q, first_d = quantile_returns(preds), ic_decay(preds)
    for seed in range(8):
        shuffled = preds.sample(fraction=1.0, shuffle=True, seed=seed)
        assert quantile_returns(shuffled).equals(first_q)
        assert ic_decay(shuffled).equals(first_d)


def test_ic_decay_against_a_direct_loop():
    preds = random_preds()
    table = ic_decay(preds)
    assert table["horizon"].to_list() == [1, 2, 5, 10, 20]
    for h, mean, ir, n_days in table.iter_rows():
        values = []
        for _date, day in preds.group_by("date"):
            p = day["prediction"].to_numpy()
            f = day[f"fwd_ret_{h}"].to_numpy().astype(float)
            ok = ~np.isnan(f)
            values.append(spearmanr(p[ok], f[ok]).statistic)
        values = np.array(values)
        assert mean == pytest.approx(values.mean())
        assert ir == pytest.approx(values.mean() / values.std(ddof=1))
        assert n_days == values.size
    # the planted signal decays with the horizon
    assert table["rank_ic_mean"][0] > table["rank_ic_mean"][4]


def test_forward_returns_follow_each_assets_own_bars():
    panel = make_panel(n_assets=3, n_days=40, stagger=5)
    fwd = forward_returns(panel, horizons=(1, 5))
    for asset, bars in panel.sort("date").group_by("asset"):
        close = bars["close"].to_numpy()
        got = fwd.filter(pl.col("asset") == asset[0]).sort("date")
        expected5 = np.full(close.size, np.nan)
        expected5[:-5] = close[5:] / close[:-5] - 1
        np.testing.assert_allclose(got["fwd_ret_5"].fill_null(np.nan).to_numpy(), expected5)
        assert got["fwd_ret_1"][-1] is None


def _daily(preds: pl.DataFrame) -> pl.DataFrame:
    """A daily frame with costs built from the labels (values arbitrary but fixed)."""
    rng = np.random.default_rng(9)
    dates = preds["date"].unique().sort()
    ls = rng.normal(0.001, 0.01, dates.len())
    bench = 0.4 * ls + rng.normal(0, 0.005, dates.len())
    cost = rng.uniform(0, 0.0005, dates.len())
    return pl.DataFrame(
        {
            "date": dates,
            "long": ls / 2,
            "short": ls / 2,
            "long_short": ls,
            "benchmark": bench,
            "n_long": 5,
            "n_short": 5,
            "turnover": cost * 1e4 / 5,
            "trade_cost": cost,
            "borrow_cost": 0.0,
            "cost": cost,
            "long_short_net": ls - cost,
            "gross_long": 1.0,
            "gross_short": 1.0,
            "n_capped": 0,
        }
    )


def test_gross_and_net_metrics_match_stats_and_an_independent_regression():
    preds = random_preds()
    daily = _daily(preds)
    m = compute_metrics(daily, preds, {}, n_trials=7, seed=3)
    ls, net = daily["long_short"].to_numpy(), daily["long_short_net"].to_numpy()
    bench = daily["benchmark"].to_numpy()
    assert m["sharpe"] == pytest.approx(ls.mean() / ls.std(ddof=1) * math.sqrt(252))
    assert m["sharpe_net"] == pytest.approx(net.mean() / net.std(ddof=1) * math.sqrt(252))
    assert m["sharpe_net"] < m["sharpe"]
    assert m["total_return_net"] == pytest.approx(np.prod(1 + net) - 1)
    slope, intercept = np.polyfit(bench, ls, 1)
    assert m["beta"] == pytest.approx(slope)
    assert m["alpha"] == pytest.approx(intercept * 252)
    assert m["psr"] == pytest.approx(stats.probabilistic_sharpe_ratio(ls))
    assert m["dsr_net"] == pytest.approx(stats.deflated_sharpe_ratio(net, 7))
    assert m["dsr"] < m["psr"]  # seven trials deflate
    assert (m["sharpe_ci_low"], m["sharpe_ci_high"]) == pytest.approx(stats.sharpe_ci_analytic(ls))
    assert m["sharpe_boot_ci_low"] < m["sharpe"] < m["sharpe_boot_ci_high"]
    assert m["turnover_mean"] == pytest.approx(daily["turnover"].mean())
    assert m["cost_annual"] == pytest.approx(daily["cost"].mean() * 252)
    assert m["sortino_net"] == pytest.approx(stats.sortino_ratio(net))
    assert m["cagr"] == pytest.approx((np.prod(1 + ls)) ** (252 / ls.size) - 1)
    assert m["n_trials"] == 7
    assert all(k == k.lower() and " " not in k for k in m)


def test_hit_rate_counts_positions_whose_sign_matches():
    books = pl.DataFrame(
        {
            "weight": [0.5, 0.5, -0.5, -0.5, 0.2],
            "label": [0.01, -0.02, -0.01, 0.03, None],
        }
    )
    assert hit_rate(books) == pytest.approx(2 / 4)


def test_summary_shows_net_interval_psr_and_dsr():
    preds = random_preds()
    text = performance_summary(compute_metrics(_daily(preds), preds, {}, n_trials=3))
    for row in ("Sharpe after costs (net)", "PSR vs 0", "DSR, 3 trial(s)", "bootstrap interval"):
        assert row in text
