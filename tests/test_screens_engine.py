"""The engine side of the researcher's screens: drawdown table, yearly returns, tail metrics,
exposure, turnover, rolling Sharpe's annualisation and the self-contained HTML report."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from alpha_core.cli import main as cli
from alpha_core.config import ModelParams, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.evaluation import html_report, views
from alpha_core.evaluation.metrics import METRICS
from alpha_core.runs.service import RunService
from alpha_core.stats import returns as stats


def daily_of(returns: list[float], start: date = date(2023, 12, 27)) -> pl.DataFrame:
    days = [start + timedelta(days=i) for i in range(len(returns))]
    return pl.DataFrame({"date": days, "long_short": returns})


def brute_drawdowns(r: np.ndarray) -> list[tuple[int, int, int | None, float]]:
    """Every (peak, trough, recovery, depth) by a plain loop over the equity path."""
    eq = [1.0]
    for x in r:
        eq.append(eq[-1] * (1 + x))
    out, peak, cur = [], 0, None
    for i in range(1, len(eq)):
        if eq[i] >= eq[peak]:
            if cur is not None:
                out.append((peak - 1, cur - 1, i - 1, eq[cur] / eq[peak] - 1))
                cur = None
            peak = i
        elif cur is None or eq[i] < eq[cur]:
            cur = i
    if cur is not None:
        out.append((peak - 1, cur - 1, None, eq[cur] / eq[peak] - 1))
    return sorted(out, key=lambda p: p[3])


def test_drawdown_periods_match_a_plain_loop():
    rng = np.random.default_rng(4)
    r = rng.normal(0.0005, 0.01, 400)
    got = stats.drawdown_periods(r)
    want = brute_drawdowns(r)
    assert [g[:3] for g in got] == [w[:3] for w in want]
    assert [g[3] for g in got] == pytest.approx([w[3] for w in want])
    assert got[0][3] == pytest.approx(stats.max_drawdown(r))


def test_worst_drawdowns_table_by_hand():
    #          day0  day1   day2  day3   day4 day5
    r = [0.10, -0.20, 0.05, 0.20, -0.05, 0.0]
    table = views.worst_drawdowns(daily_of(r))
    first = table.row(0, named=True)
    # peak day0 (1.1), trough day1 (0.88), back above 1.1 on day3 (0.88*1.05*1.2=1.1088)
    assert first["depth"] == pytest.approx(0.88 / 1.1 - 1)
    assert (first["start"], first["trough"], first["recovery"]) == (
        date(2023, 12, 27), date(2023, 12, 28), date(2023, 12, 30)
    )  # fmt: skip
    assert first["length"] == 3
    second = table.row(1, named=True)  # not recovered: day4 onwards
    assert second["recovery"] is None and second["depth"] == pytest.approx(-0.05)
    assert second["length"] == 2


def test_yearly_returns_compound_the_months():
    r = list(np.linspace(-0.01, 0.012, 20))
    daily = daily_of(r)
    yearly = views.yearly_returns(daily)
    monthly = views.monthly_returns(daily)
    for year, value in yearly.iter_rows():
        months = monthly.filter(pl.col("year") == year)["return"].to_numpy()
        assert value == pytest.approx(np.prod(1 + months) - 1)
    assert yearly["year"].to_list() == [2023, 2024]


def test_tail_statistics_against_numpy():
    rng = np.random.default_rng(1)
    r = rng.standard_t(4, 1000) * 0.01
    q05, q95 = np.percentile(r, 5), np.percentile(r, 95)
    assert stats.value_at_risk(r) == pytest.approx(q05)
    assert stats.conditional_value_at_risk(r) == pytest.approx(r[r <= q05].mean())
    assert stats.tail_ratio(r) == pytest.approx(abs(q95) / abs(q05))
    for key in ("var_95", "cvar_95", "tail_ratio", "var_95_net", "cvar_95_net"):
        assert METRICS[key].compute is not None


def test_rolling_sharpe_uses_the_runs_periods():
    rng = np.random.default_rng(2)
    daily = daily_of(list(rng.normal(0.001, 0.01, 80)))
    weekly = views.rolling_sharpe(daily, 21, periods=52)["rolling_sharpe"].to_numpy()
    last = daily["long_short"].to_numpy()[-21:]
    assert weekly[-1] == pytest.approx(last.mean() / last.std(ddof=1) * math.sqrt(52))


def test_exposure_by_group_sums_signed_weights():
    books = pl.DataFrame(
        {
            "date": [date(2024, 1, 2)] * 4,
            "asset": ["A", "B", "C", "D"],
            "side": ["long", "long", "short", "short"],
            "weight": [0.3, 0.2, -0.25, 0.25],
            "sector": ["Tech", "Energy", "Tech", None],
        }
    )
    frame = views.exposure_by_group(books, "sector")
    by = {g: (lo, sh, n) for _, g, lo, sh, n in frame.iter_rows()}
    assert by["Tech"] == pytest.approx((0.3, -0.25, 0.05))
    assert by["Energy"] == pytest.approx((0.2, 0.0, 0.2))
    assert by["(none)"] == pytest.approx((0.0, -0.25, -0.25))
    assert views.exposure_by_group(books.drop("sector"), "sector").is_empty()


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    cfg = RunConfig(
        train_start=date(2024, 1, 2),
        train_end=date(2024, 10, 1),
        model=ModelParams(n_estimators=5, num_leaves=8, max_depth=4),
        name="<script>alert(1)</script> report",
        cost_bps=5,
    )
    result = RunService(root).train_and_save(cfg, load_panel("demo"), explain=False)
    return root, result


def test_html_report_is_self_contained_and_shows_the_run(saved_run):
    root, result = saved_run
    page = RunService(root).report_html(result.run_id)
    assert "<script" not in page  # no scripts at all, and the hostile name is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt; report" in page
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # nothing fetched
    assert page.count("<svg") == 3  # equity, drawdown, attribution
    assert "<h2>Attribution</h2>" in page
    m = result.metrics  # with costs: the headline is net, the gross Sharpe beside it
    assert f"Net Sharpe: {m['sharpe_net']:.2f}</b> annualised (gross {m['sharpe']:.2f})" in page
    assert f"[{m['sharpe_net_ci_low']:.2f}, {m['sharpe_net_ci_high']:.2f}]" in page
    from alpha_core.data.panel import panel_fingerprint

    assert panel_fingerprint(load_panel("demo")) in page
    assert result.config.fingerprint() in page
    yearly = views.yearly_returns(result.daily, "long_short_net")
    for value in yearly["return"]:
        assert f"{value:.1%}" in page


def test_html_report_downsamples_long_series():
    dates = [date(2000, 1, 1) + timedelta(days=i) for i in range(5000)]
    svg = html_report.svg_lines(dates, {"a": np.linspace(1, 2, 5000)}, "t")
    points = re.search(r"points='([^']*)'", svg).group(1).split()
    assert len(points) <= html_report.MAX_POINTS


def test_alpha_report_writes_the_file(saved_run, tmp_path, capsys):
    root, result = saved_run
    out = tmp_path / "r.html"
    code = cli.main(["report", result.run_id, "--out", str(out), "--artifacts", str(root)])
    assert code == 0
    assert out.read_text() == RunService(root).report_html(result.run_id)
    assert cli.main(["report", "missing-run", "--artifacts", str(root)]) == 2
    assert "cannot report run missing-run" in capsys.readouterr().err
