"""Monitoring: PSI and the KS test against independent computations, the decay band, the
drift alert on the demo's planted regime shift (and quiet without it), and a 20-day desk
simulation whose live track record equals the P&L computed independently from the ledger."""

# ruff: noqa: F811  (pytest fixtures imported from desk_helpers)
from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from desk_helpers import (  # noqa: F401  (fixtures)
    CONTINUED,
    SHIFTED,
    continued_panel,
    demo_panel,
    desk_registry,
    fresh_copy,
)
from scipy import stats as sps

from alpha_core.cli.main import main
from alpha_core.data.panel import load_panel
from alpha_core.desk.monitor import MonitorSettings, decay_table
from alpha_core.desk.service import DeskService
from alpha_core.stats import drift


# ----------------------------------------------------------------------------- PSI and KS
def psi_by_hand(ref: np.ndarray, cur: np.ndarray, bins: int) -> float:
    """PSI with explicit intervals and Python loops (edges: the reference's percentiles)."""
    cuts = sorted(set(np.percentile(ref, [100 * k / bins for k in range(1, bins)]).tolist()))
    bounds = [-math.inf, *cuts, math.inf]
    total = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        r = max(sum(lo < x <= hi for x in ref) / len(ref), 1e-4)
        c = max(sum(lo < x <= hi for x in cur) / len(cur), 1e-4)
        total += (c - r) * math.log(c / r)
    return total


def test_psi_against_hand_computation():
    rng = np.random.default_rng(5)
    ref = rng.normal(0, 1, 2000)
    for cur in (rng.normal(0, 1, 500), rng.normal(0.5, 1.3, 500), rng.standard_t(3, 700)):
        assert drift.psi(ref, cur, 10) == pytest.approx(psi_by_hand(ref, cur, 10), rel=1e-12)
    # 0..99 in quartiles; all mass in the outer two: 2 * .25 ln 2 + 2 (1e-4 - .25) ln(4e-4)
    expected = 2 * 0.25 * math.log(2) + 2 * (1e-4 - 0.25) * math.log(1e-4 / 0.25)
    cur = np.array([0.0] * 50 + [99.0] * 50)
    assert drift.psi(np.arange(100.0), cur, 4) == pytest.approx(expected, rel=1e-12)
    assert drift.psi(ref, ref, 10) == 0.0
    assert math.isnan(drift.psi(ref, np.array([np.nan]), 10))


def test_ks_statistic_and_p_value_against_independent_computations():
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(0, 1, 3000), rng.normal(0.08, 1, 2000)
    stat, p = drift.ks_test(ref, cur)
    points = np.concatenate([ref, cur])
    gaps = [abs(np.mean(ref <= x) - np.mean(cur <= x)) for x in points]
    assert stat == pytest.approx(max(gaps), abs=1e-12)
    en = math.sqrt(3000 * 2000 / 5000)  # the asymptotic Kolmogorov distribution
    assert p == pytest.approx(sps.kstwobign.sf(stat * en), abs=0.01)


def test_status_needs_both_psi_and_the_test():
    s = drift.DriftSettings()
    assert drift.status(0.3, 1e-5, s) == "alert"
    assert drift.status(0.3, 0.2, s) == "warn"  # large PSI, but the test does not reject
    assert drift.status(0.12, 1e-9, s) == "warn"
    assert drift.status(0.05, 1e-9, s) == "ok"


def test_decay_band_and_alert_by_hand():
    rng = np.random.default_rng(7)
    bt = pl.DataFrame({"long_short_net": rng.normal(0.001, 0.01, 500)})
    bt_ic = pl.DataFrame({"rank_ic": rng.normal(0.03, 0.1, 500)})
    live = pl.DataFrame({"long_short_net": rng.normal(0.001, 0.01, 25)})
    bad_ic = pl.DataFrame({"rank_ic": np.full(25, -0.05)})
    table = {
        r["metric"]: r for r in decay_table(live, bad_ic, bt, bt_ic, MonitorSettings()).to_dicts()
    }
    ic = table["rank_ic"]
    half = 1.645 * bt_ic["rank_ic"].std() / math.sqrt(25)
    mean = bt_ic["rank_ic"].mean()
    assert (ic["lower"], ic["upper"]) == pytest.approx((mean - half, mean + half))
    assert ic["status"] == "alert" and ic["live"] == pytest.approx(-0.05)
    sr_d = bt["long_short_net"].mean() / bt["long_short_net"].std()
    half_sr = 1.645 * math.sqrt(252 * (1 + sr_d**2 / 2) / 25)
    assert table["sharpe"]["backtest"] == pytest.approx(sr_d * math.sqrt(252))
    assert table["sharpe"]["upper"] - table["sharpe"]["lower"] == pytest.approx(2 * half_sr)
    short = decay_table(live.head(5), bad_ic.head(5), bt, bt_ic, MonitorSettings())
    assert set(short["status"]) == {"too short"}


# ----------------------------------------------------------------------------- the desk
def book_days(service, run_id, panel, days):
    for day in days:
        DeskService(service.root).book(run_id, panel.filter(pl.col("date") <= day))


def independent_pnl(entries, panel, cost_bps, borrow_bps):
    """Net P&L of the ledger's books from closes, by plain Python."""
    closes = {(d, a): c for d, a, c in panel.select("date", "asset", "close").iter_rows()}
    days = sorted(panel["date"].unique().to_list())
    nxt = dict(zip(days[:-1], days[1:], strict=True))
    out, prev = {}, {}
    for e in entries:
        d = date.fromisoformat(e["as_of"])
        w = {r["asset"]: r["weight"] for r in e["book"]}
        turnover = sum(abs(w.get(a, 0.0) - prev.get(a, 0.0)) for a in set(w) | set(prev))
        prev = w
        if d not in nxt:
            continue
        gross = sum(wt * (closes[(nxt[d], a)] / closes[(d, a)] - 1) for a, wt in w.items())
        short = -sum(wt for wt in w.values() if wt < 0)
        out[d] = (gross, gross - turnover * cost_bps / 1e4 - short * borrow_bps / 1e4 / 252)
    return out


def test_twenty_day_simulation_track_record_equals_independent_pnl(
    tmp_path, desk_registry, continued_panel
):
    service, run_id = fresh_copy(*desk_registry, tmp_path), desk_registry[1]
    days = continued_panel["date"].unique().sort().tail(20).to_list()
    book_days(service, run_id, continued_panel, days)
    root = str(service.root)
    # the CLI on the last day: the same inputs, so the ledger is unchanged
    assert main(["book", "--run", run_id, "--data", CONTINUED, "--artifacts", root]) == 0
    entries = DeskService(service.root).ledger(run_id).entries
    assert len(entries) == 20 and entries[-1]["status"] == "appended"

    assert main(["monitor", "--run", run_id, "--data", CONTINUED, "--artifacts", root,
                 "--json"]) == 0  # fmt: skip
    report = DeskService(service.root).monitor(run_id, continued_panel)
    expected = independent_pnl(entries, continued_panel, 5.0, 25.0)
    live = report.daily
    assert live["date"].to_list() == sorted(expected) and live.height == 19
    np.testing.assert_allclose(live["long_short"], [expected[d][0] for d in sorted(expected)],
                               rtol=0, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(live["long_short_net"], [expected[d][1] for d in sorted(expected)],
                               rtol=0, atol=1e-12)  # fmt: skip
    # the live rank IC: Spearman of every scored asset's prediction with its next return
    closes = continued_panel.pivot("asset", index="date", values="close").sort("date")
    ics = []
    for e in entries[:-1]:
        d = date.fromisoformat(e["as_of"])
        i = closes["date"].to_list().index(d)
        assets = list(e["scores"])
        ret = [closes[a][i + 1] / closes[a][i] - 1 for a in assets]
        ics.append(sps.spearmanr([e["scores"][a] for a in assets], ret).statistic)
    ic_row = report.decay.filter(pl.col("metric") == "rank_ic").row(0, named=True)
    assert ic_row["live"] == pytest.approx(np.mean(ics), abs=1e-12) and ic_row["n_days"] == 19
    # quiet without a regime shift
    assert report.features.filter(pl.col("status") == "alert").height == 0
    assert report.predictions["status"] != "alert" and not report.retrain
    assert report.coverage["share_scored"] == 1.0


def test_monitor_json_last_line(tmp_path, desk_registry, continued_panel, capsys):
    service, run_id = fresh_copy(*desk_registry, tmp_path), desk_registry[1]
    book_days(service, run_id, continued_panel, continued_panel["date"].unique().sort().tail(3))
    capsys.readouterr()
    assert main(["monitor", "--run", run_id, "--data", CONTINUED, "--artifacts",
                 str(service.root), "--json"]) == 0  # fmt: skip
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["live_days"] == 2 and payload["data_end"] == "2025-05-30"
    assert payload["reference"]["run_id"] == run_id  # the research backtest
    assert payload["drift_window"] == ["2025-05-30", "2025-05-30"]  # the decision date
    assert {r["feature"] for r in payload["drift"]} >= {"vol_20", "mom_5"}
    assert payload["retrain"] == {"recommended": False, "reasons": []}
    assert payload["predictions"]["status"] == "too short"  # 3 books: not judged yet
    assert payload["coverage"]["as_of"] == "2025-05-30"


def test_drift_alert_fires_on_the_planted_shift(tmp_path, desk_registry):
    service, run_id = fresh_copy(*desk_registry, tmp_path), desk_registry[1]
    shifted = load_panel(SHIFTED)
    book_days(service, run_id, shifted, shifted["date"].unique().sort().tail(20))
    report = DeskService(service.root).monitor(run_id, shifted)
    alerts = set(report.features.filter(pl.col("status") == "alert")["feature"])
    assert {"vol_5", "vol_20", "hl_range_pc"} <= alerts
    assert report.predictions["status"] == "alert"
    assert report.retrain and report.reasons[0].startswith("feature drift: ")


def test_day_drift_thresholds_by_hand():
    """One day's cross-section against 400 reference days of 60 assets (a common daily
    shock, so days differ more than sampling alone): thresholds are the reference days' own
    quantiles; a normal day is quiet, a zeroed or shifted cross-section alerts."""
    rng = np.random.default_rng(11)
    days = [date(2020, 1, 1) + timedelta(days=k) for k in range(401)]
    values = rng.normal(0, 1, (401, 60)) + rng.normal(0, 0.3, (401, 1))
    frame = pl.DataFrame({"date": [d for d in days for _ in range(60)], "x": values.ravel()})
    reference = frame.filter(pl.col("date") < days[-1])
    settings = drift.DriftSettings()
    ref = drift.feature_reference(reference, "x", settings)
    # the reference days' statistics, by hand
    medians = np.median(values[:-1], axis=1)
    centre = np.median(medians)
    q75, q25 = np.quantile(values[:-1], [0.75, 0.25])
    noise = 1.2533 * (q75 - q25) / 1.349 / math.sqrt(60)  # a day's median's standard error
    spread = max(1.4826 * np.median(np.abs(medians - centre)), noise)
    np.testing.assert_allclose(ref.days["location"], np.abs(medians - centre) / spread)
    edges = drift.psi_edges(reference["x"].to_numpy(), 10)
    assert ref.days["psi"][3] == pytest.approx(
        drift.psi(reference["x"].to_numpy(), values[3], 10), rel=1e-12
    )
    np.testing.assert_array_equal(ref.edges, edges)
    m = 3  # one feature, three statistics
    alert = ref.thresholds(1 - settings.alpha / m, settings, alert=True)
    assert alert["location"] == max(
        np.quantile(ref.days["location"], 1 - settings.alpha / m, method="higher"), 3.0
    )

    def judged(today: np.ndarray) -> dict:
        cross = pl.DataFrame({"date": [days[-1]] * 60, "x": today})
        table = drift.day_drift(reference, cross, ["x"], settings, references={"x": ref})
        return table.row(0, named=True) | {"drifted": drift.drift_alert(table, settings)}

    normal = judged(values[-1])
    assert normal["status"] in ("ok", "warn") and not normal["drifted"]
    zeroed = judged(np.zeros(60))
    assert zeroed["status"] == "alert" and zeroed["scale"] == math.inf and zeroed["drifted"]
    shifted = judged(values[-1] + 3.0)
    assert shifted["status"] == "alert" and shifted["location"] > shifted["location_threshold"]
