"""Turnover and costs on hand-made books; sizing schemes; position and sector caps."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from alpha_core.config import ConfigError, RunConfig
from alpha_core.portfolio.backtest import add_costs, daily_returns, turnover
from alpha_core.portfolio.books import build_books, cap_weights
from alpha_core.research.pipeline import rebook

D1, D2, D3, D4 = (dt.date(2024, 1, d) for d in (2, 3, 4, 5))


def book(rows: list[tuple[dt.date, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [r[0] for r in rows],
            "asset": [r[1] for r in rows],
            "side": ["long" if r[2] > 0 else "short" for r in rows],
            "weight": [r[2] for r in rows],
        }
    )


def labels(dates: list[dt.date], assets: list[str], values: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [d for d in dates for _ in assets],
            "asset": assets * len(dates),
            "prediction": [0.0] * (len(dates) * len(assets)),
            "label": values,
        }
    )


def test_turnover_net_and_costs_by_hand():
    books = book(
        [
            (D1, "A", 0.5), (D1, "B", 0.5), (D1, "C", -1.0),
            (D2, "A", 0.5), (D2, "B", 0.5), (D2, "C", -1.0),  # unchanged: no turnover
            (D3, "A", 1.0), (D3, "D", -1.0),  # B exits, C exits, D enters
        ]
    )  # fmt: skip
    assets = ["A", "B", "C", "D"]
    preds = labels(
        [D1, D2, D3, D4],
        assets,
        [0.01, 0.02, -0.01, 0.0] + [0.0, -0.01, 0.02, 0.01] + [0.03, 0.0, 0.0, -0.02]
        + [None] * 4,
    )  # fmt: skip
    expected_turnover = [
        2.0,  # bought from cash: 0.5 + 0.5 + 1.0
        0.0,
        0.5 + 0.5 + 1.0 + 1.0,  # A +0.5, B -0.5, C +1.0 (cover), D -1.0
    ]
    t = turnover(books, preds["date"])
    assert t["turnover"].to_list()[:3] == pytest.approx(expected_turnover)
    assert t["turnover"][3] == pytest.approx(2.0)  # no book on D4: exiting to zero counts
    daily = add_costs(daily_returns(books, preds), books, preds["date"], cost_bps=10)
    gross = [
        0.5 * 0.01 + 0.5 * 0.02 + 1.0 * 0.01,
        0.5 * 0.0 + 0.5 * -0.01 - 1.0 * 0.02,
        1.0 * 0.03 + 1.0 * 0.02,
    ]
    np.testing.assert_allclose(daily["long_short"], gross)
    np.testing.assert_allclose(daily["turnover"], expected_turnover)
    np.testing.assert_allclose(daily["cost"], np.array(expected_turnover) * 10 / 1e4)
    np.testing.assert_array_equal(
        daily["long_short_net"].to_numpy(),
        daily["long_short"].to_numpy() - daily["turnover"].to_numpy() * 0.001,
    )
    assert daily["cost"][1] == 0.0  # zero turnover costs nothing


def test_borrow_fee_is_charged_daily_on_the_short_gross():
    books = book([(D1, "A", 0.7), (D1, "B", -0.6), (D2, "A", 0.7), (D2, "B", -0.6)])
    preds = labels([D1, D2], ["A", "B"], [0.01, 0.0, 0.0, 0.01])
    daily = add_costs(daily_returns(books, preds), books, preds["date"], 0.0, borrow_bps=50)
    np.testing.assert_allclose(daily["borrow_cost"], [0.6 * 50 / 1e4 / 252] * 2)
    np.testing.assert_allclose(daily["trade_cost"], [0.0, 0.0])
    np.testing.assert_allclose(daily["long_short_net"], daily["long_short"] - daily["borrow_cost"])
    assert daily["gross_short"].to_list() == pytest.approx([0.6, 0.6])


# ----------------------------------------------------------------------------- capping
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=3, max_value=40),
    seed=st.integers(min_value=0, max_value=10_000),
    cap=st.floats(min_value=0.03, max_value=0.6),
    target=st.floats(min_value=0.2, max_value=2.0),
)
def test_caps_hold_and_sides_sum_to_target(n, seed, cap, target):
    rng = np.random.default_rng(seed)
    base = rng.lognormal(0, 1, n)
    group = np.zeros(n, dtype=int)
    w, capped, infeasible = cap_weights(base, group, np.array([target]), max_weight=cap)
    assert (w <= cap * (1 + 1e-9)).all()
    if n * cap >= target * (1 - 1e-12):
        assert not infeasible[0]
        assert w.sum() == pytest.approx(target)
        free = ~capped
        if free.sum() > 1:  # uncapped names keep their base proportions
            ratio = w[free] / base[free]
            assert ratio == pytest.approx(np.full(free.sum(), ratio[0]))
    else:
        assert infeasible[0]
        assert w == pytest.approx(np.full(n, cap))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
@example(seed=1323)
@example(seed=9556)
def test_sector_and_asset_caps_together(seed):
    rng = np.random.default_rng(seed)
    n = 24
    base = rng.lognormal(0, 1, n)
    group = np.repeat([0, 1], n // 2)  # two sides
    sector_of = rng.integers(0, 4, n)
    sector = group * 4 + sector_of
    target = np.array([1.0, 0.8])
    w, _capped, infeasible = cap_weights(base, group, target, 0.15, sector, 0.35)
    assert (w <= 0.15 + 1e-9).all()
    totals = np.bincount(sector, w, minlength=8)
    assert (totals <= 0.35 + 1e-9).all()
    for g in (0, 1):
        counts = np.bincount(sector[group == g])
        capacity = np.minimum(0.35, counts[counts > 0] * 0.15).sum()
        if capacity >= target[g] - 1e-9:
            assert not infeasible[g]
            assert w[group == g].sum() == pytest.approx(target[g])
        else:  # the caps cannot hold the target: filled to capacity and reported
            assert infeasible[g]
            assert w[group == g].sum() == pytest.approx(capacity)


def test_infeasible_caps_are_reported():
    base = np.ones(4)
    w, capped, infeasible = cap_weights(base, np.zeros(4, dtype=int), np.array([1.0]), 0.2)
    assert infeasible.tolist() == [True]
    assert w.sum() == pytest.approx(0.8)
    assert capped.all()


# ----------------------------------------------------------------------------- sizing
def cross_section(n: int = 20, seed: int = 0, days: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dates = [D1 + dt.timedelta(days=i) for i in range(days)]
    return pl.DataFrame(
        {
            "date": [d for d in dates for _ in range(n)],
            "asset": [f"A{i:02d}" for i in range(n)] * days,
            "prediction": rng.normal(size=n * days),
            "label": rng.normal(0, 0.01, n * days),
            "vol_20": rng.uniform(0.005, 0.04, n * days),
            "sector": [["Tech", "Energy", "Banks", "Retail"][i % 4] for i in range(n)] * days,
        }
    )


def sides(books: pl.DataFrame, date: dt.date = D1) -> tuple[pl.DataFrame, pl.DataFrame]:
    day = books.filter(pl.col("date") == date)
    return day.filter(pl.col("side") == "long"), day.filter(pl.col("side") == "short")


def test_inverse_vol_weights_are_proportional_to_one_over_vol():
    preds = cross_section()
    books, _ = build_books(preds, RunConfig(sizing="inverse_vol", gross_long=1.5, gross_short=0.5))
    longs, shorts = sides(books)
    for side, gross in ((longs, 1.5), (shorts, 0.5)):
        inv = 1 / side["vol_20"].to_numpy()
        np.testing.assert_allclose(side["weight"].abs().to_numpy(), gross * inv / inv.sum())
    assert (shorts["weight"] < 0).all()


def test_rank_and_score_sizing():
    preds = cross_section()
    books, _ = build_books(preds, RunConfig(sizing="rank"))
    longs, _ = sides(books)
    base = (longs["rank"] - 0.5).abs().to_numpy()
    np.testing.assert_allclose(longs["weight"].to_numpy(), base / base.sum())
    books, _ = build_books(preds, RunConfig(sizing="score"))
    longs, shorts = sides(books)
    median = float(np.median(preds.filter(pl.col("date") == D1)["prediction"].to_numpy()))
    base = (shorts["prediction"].to_numpy() - median).__abs__()
    np.testing.assert_allclose(-shorts["weight"].to_numpy(), base / base.sum())


def test_equal_sizing_with_caps_in_books_and_metrics():
    preds = cross_section(n=40)
    cfg = RunConfig(sizing="inverse_vol", max_weight=0.15, max_sector_weight=0.4)
    books, summary = build_books(preds, cfg)
    longs, shorts = sides(books)
    for side in (longs, shorts):
        w = side["weight"].abs()
        assert w.max() <= 0.15 + 1e-9
        assert w.sum() == pytest.approx(1.0)
        per_sector = side.group_by("sector").agg(pl.col("weight").abs().sum())
        assert per_sector["weight"].max() <= 0.4 + 1e-9
    assert books["capped"].any()
    assert summary["capped_days"] == 2
    assert summary["limit_infeasible_days"] == 0


def test_sector_neutral_ranks_within_each_sector():
    preds = cross_section(n=40)
    books, _ = build_books(preds, RunConfig(sector_neutral=True))
    longs, shorts = sides(books)
    assert sorted(longs["sector"].unique()) == ["Banks", "Energy", "Retail", "Tech"]
    day = preds.filter(pl.col("date") == D1)
    for sector in ("Banks", "Tech"):
        members = day.filter(pl.col("sector") == sector).sort("prediction")
        assert set(shorts.filter(pl.col("sector") == sector)["asset"]) == set(
            members["asset"][:2]
        )  # 10 names per sector, bottom 20% = 2
        assert set(longs.filter(pl.col("sector") == sector)["asset"]) == set(members["asset"][-2:])


def test_sector_limits_need_a_sector_column():
    preds = cross_section().drop("sector")
    with pytest.raises(ValueError, match="need a 'sector' column"):
        build_books(preds, RunConfig(max_sector_weight=0.3))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cost_bps": -1.0}, "cost_bps must be in"),
        ({"sizing": "kelly"}, "sizing must be one of"),
        ({"max_weight": 0.0}, "max_weight must be in"),
        ({"walk_forward": "weekly"}, "walk_forward must be one of"),
        ({"window_days": 3}, "window_days must be an integer >= 20"),
        ({"n_trials": 0}, "n_trials must be an integer >= 1"),
    ],
)
def test_bad_research_settings_are_named(change, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(**change).validate()


def test_rebook_with_every_limit_on_a_six_month_window():
    # its speed is measured by bench/bench_percentile.py, not asserted on a shared machine
    preds = cross_section(n=89, days=126)
    cfg = RunConfig(sizing="inverse_vol", max_weight=0.05, cost_bps=5, borrow_bps=30)
    _books, daily, metrics = rebook(preds, cfg, {})
    assert daily.height == 126
    assert metrics["sharpe_net"] is not None


def test_infeasible_side_keeps_the_book_dollar_neutral():
    preds = cross_section(n=40)
    # 8 names per side: a 0.1 cap holds at most 0.8 of the 1.0 target on both sides
    books, summary = build_books(preds, RunConfig(max_weight=0.1, short_pct=0.4))
    longs, shorts = sides(books)
    assert longs["weight"].sum() == pytest.approx(0.8)
    assert shorts["weight"].sum() == pytest.approx(-0.8)  # 16 shorts could hold 1.0
    assert summary["limit_infeasible_days"] == 2
    # unequal targets are not forced together
    books, _ = build_books(preds, RunConfig(max_weight=0.1, short_pct=0.4, gross_short=0.9))
    _, shorts = sides(books)
    assert shorts["weight"].sum() == pytest.approx(-0.9)
