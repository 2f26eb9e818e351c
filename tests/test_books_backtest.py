"""Books, daily P&L and IC against hand computations on small examples."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from alpha_core.evaluation.metrics import daily_ic, ic_metrics, rmse
from alpha_core.portfolio.backtest import daily_returns
from alpha_core.portfolio.books import books_csv, form_books, rank_predictions, side_book

D1, D2, D3 = dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)


def preds_frame() -> pl.DataFrame:
    """Two realised dates of 10 assets, and a third (tomorrow) with no labels yet."""
    assets = [f"S{i}" for i in range(10)]
    pred1 = [0.1, 0.9, 0.3, 0.5, 0.2, 0.8, 0.4, 0.7, 0.6, 0.0]
    lab1 = [0.01, 0.03, -0.02, 0.00, 0.02, -0.01, 0.01, 0.02, -0.03, -0.04]
    pred2 = list(reversed(pred1))
    lab2 = [0.02, -0.01, 0.00, 0.01, 0.03, 0.00, -0.02, 0.01, 0.02, 0.04]
    return pl.DataFrame(
        {
            "date": [D1] * 10 + [D2] * 10 + [D3] * 10,
            "asset": assets * 3,
            "prediction": pred1 + pred2 + pred1,
            "label": lab1 + lab2 + [None] * 10,
        }
    )


def test_rank_is_centred_percentile():
    ranked = rank_predictions(preds_frame()).filter(pl.col("date") == D1)
    by_asset = dict(zip(ranked["asset"], ranked["rank"], strict=True))
    assert by_asset["S1"] == pytest.approx(0.95)  # highest of 10: (10 - 0.5) / 10
    assert by_asset["S9"] == pytest.approx(0.05)


def test_books_pick_top_and_bottom_quintile_with_equal_weights():
    books = form_books(rank_predictions(preds_frame()), 0.2, 0.2)
    d1 = books.filter(pl.col("date") == D1)
    longs = set(d1.filter(pl.col("side") == "long")["asset"])
    shorts = set(d1.filter(pl.col("side") == "short")["asset"])
    assert longs == {"S1", "S5"}  # predictions 0.9, 0.8
    assert shorts == {"S9", "S0"}  # predictions 0.0, 0.1
    assert d1.filter(pl.col("side") == "long")["weight"].to_list() == [0.5, 0.5]
    assert d1.filter(pl.col("side") == "short")["weight"].to_list() == [-0.5, -0.5]
    assert books.filter(pl.col("date") == D3).height == 4  # tomorrow's book exists


def test_side_book_is_one_side_of_one_day_strongest_first():
    books = form_books(rank_predictions(preds_frame()), 0.3, 0.3)
    # D2 predictions are reversed: S8 0.9, S4 0.8, S2 0.7 long; S0 0.0, S9 0.1, S5 0.2 short
    assert side_book(books, D2, "long")["asset"].to_list() == ["S8", "S4", "S2"]
    assert side_book(books, D2, "short")["asset"].to_list() == ["S0", "S9", "S5"]
    assert side_book(books, D2, "long").columns == books.columns
    assert side_book(books, dt.date(2030, 1, 1), "long").height == 0
    with pytest.raises(ValueError, match="side must be one of"):
        side_book(books, D2, "flat")


def test_books_csv_has_the_export_columns_for_one_day_or_all():
    books = form_books(rank_predictions(preds_frame()), 0.2, 0.2)
    lines = books_csv(books, D1).splitlines()
    assert lines[0] == "date,asset,side,weight,prediction,rank"
    assert len(lines) == 1 + 4 and all(line.startswith("2024-01-02,") for line in lines[1:])
    assert len(books_csv(books).splitlines()) == 1 + books.height


@pytest.mark.parametrize("n", [89, 50, 7, 10])
def test_equal_percentiles_give_equal_book_sizes(n):
    rng = np.random.default_rng(n)
    preds = pl.DataFrame(
        {"date": [D1] * n, "asset": [f"A{i}" for i in range(n)], "prediction": rng.normal(size=n)}
    )
    for q in (0.1, 0.2, 0.33, 0.5):
        books = form_books(rank_predictions(preds), q, q)
        n_long = books.filter(pl.col("side") == "long").height
        n_short = books.filter(pl.col("side") == "short").height
        assert n_long == n_short
        assert n_long == min(math.floor(q * n + 0.5 + 1e-9), n // 2)
        assert books["asset"].n_unique() == books.height  # never on both sides


def test_daily_returns_match_hand_computation():
    preds = preds_frame()
    daily = daily_returns(form_books(rank_predictions(preds), 0.2, 0.2), preds)
    assert daily["date"].to_list() == [D1, D2]  # D3 has no realised label
    # D1: long S1 (0.03), S5 (-0.01); short S9 (-0.04), S0 (0.01)
    long1 = (0.03 - 0.01) / 2
    short1 = -(-0.04 + 0.01) / 2
    # D2 reversed predictions: long S8 (0.02), S4 (0.03); short S0 (0.02), S9 (0.04)
    long2 = (0.02 + 0.03) / 2
    short2 = -(0.02 + 0.04) / 2
    np.testing.assert_allclose(daily["long"], [long1, long2])
    np.testing.assert_allclose(daily["short"], [short1, short2])
    np.testing.assert_allclose(daily["long_short"], [long1 + short1, long2 + short2])
    lab = preds.filter(pl.col("date") == D1)["label"].to_numpy()
    assert daily["benchmark"][0] == pytest.approx(lab.mean())
    assert daily["n_long"].to_list() == [2, 2]


def test_missing_label_of_a_held_asset_earns_zero():
    preds = preds_frame().with_columns(
        pl.when((pl.col("date") == D1) & (pl.col("asset") == "S1"))
        .then(None)
        .otherwise(pl.col("label"))
        .alias("label")
    )
    daily = daily_returns(form_books(rank_predictions(preds), 0.2, 0.2), preds)
    assert daily["long"][0] == pytest.approx((0.0 - 0.01) / 2)


def test_ic_and_rank_ic_against_numpy_and_scipy():
    preds = preds_frame()
    ic = daily_ic(preds)
    for date, row_ic, row_ric in zip(ic["date"], ic["ic"], ic["rank_ic"], strict=True):
        day = preds.filter(pl.col("date") == date)
        p, y = day["prediction"].to_numpy(), day["label"].to_numpy()
        assert row_ic == pytest.approx(np.corrcoef(p, y)[0, 1])
        assert row_ric == pytest.approx(spearmanr(p, y).statistic)
    m = ic_metrics(ic)
    values = ic["rank_ic"].to_numpy()
    assert m["rank_ic_mean"] == pytest.approx(values.mean())
    assert m["rank_ic_ir"] == pytest.approx(values.mean() / values.std(ddof=1))


def test_rmse_ignores_unrealised_rows():
    preds = preds_frame()
    real = preds.filter(pl.col("label").is_not_null())
    expected = np.sqrt(np.mean((real["prediction"].to_numpy() - real["label"].to_numpy()) ** 2))
    assert rmse(preds) == pytest.approx(expected)


# --------------------------------------------------------------------------- ties
def one_day(predictions: list[float]) -> pl.DataFrame:
    n = len(predictions)
    return pl.DataFrame(
        {"date": [D1] * n, "asset": [f"S{i}" for i in range(n)], "prediction": predictions}
    )


def book_sides(books: pl.DataFrame) -> tuple[list[str], list[str]]:
    long = books.filter(pl.col("side") == "long")["asset"].sort().to_list()
    short = books.filter(pl.col("side") == "short")["asset"].sort().to_list()
    return long, short


def test_tied_top_names_fill_the_long_book_by_the_stated_rule():
    # five names tie at the top: their average rank (0.75) is below the 0.8 cut, so the
    # long book used to be empty; now it holds 2 (= 20% of 10): the last names of the tie
    preds = one_day([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.4, 0.3, 0.2, 0.1])
    long, short = book_sides(form_books(rank_predictions(preds), 0.2, 0.2))
    assert long == ["S3", "S4"]
    assert short == ["S8", "S9"]


def test_all_equal_predictions_still_fill_both_sides_deterministically():
    preds = one_day([0.0] * 10)
    books = form_books(rank_predictions(preds), 0.3, 0.2)
    long, short = book_sides(books)
    assert long == ["S7", "S8", "S9"] and short == ["S0", "S1"]
    assert books["rank"].to_list() == [0.5] * 5  # the rank column stays the average rank
    shuffled = preds.sample(fraction=1.0, shuffle=True, seed=1)
    assert book_sides(form_books(rank_predictions(shuffled), 0.3, 0.2)) == (long, short)


def test_ties_straddling_the_short_cut_split_by_name():
    # S0..S3 tie at the bottom; 20% of 10 is 2 short names: the first two names
    preds = one_day([0.1, 0.1, 0.1, 0.1, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    long, short = book_sides(form_books(rank_predictions(preds), 0.2, 0.2))
    assert short == ["S0", "S1"] and long == ["S8", "S9"]


# --------------------------------------------------------------------------- empty sides
def test_days_without_positions_are_counted_not_averaged_in():
    from alpha_core.evaluation.metrics import compute_metrics
    from alpha_core.stats import returns as stats

    rng = np.random.default_rng(4)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(30)]
    ls = rng.normal(0.001, 0.01, 30)
    n_long = np.full(30, 3)
    n_short = np.full(30, 3)
    n_long[[4, 9]] = 0  # two days without longs ...
    n_short[[9, 20]] = 0  # ... and day 9 without any position
    long = np.where(n_long > 0, ls / 2, 0.0)
    short = np.where(n_short > 0, ls / 2, 0.0)
    daily = pl.DataFrame(
        {
            "date": days,
            "long": long,
            "short": short,
            "long_short": long + short,
            "benchmark": rng.normal(0, 0.01, 30),
            "n_long": n_long,
            "n_short": n_short,
        }
    )
    preds = pl.DataFrame(
        {"date": days, "asset": "A", "prediction": 0.0, "label": 0.0},
        schema_overrides={"label": pl.Float64},
    )
    m = compute_metrics(daily, preds, {})
    held = np.array([i != 9 for i in range(30)])
    r = (long + short)[held]
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert m["long_sharpe"] == pytest.approx(stats.sharpe_ratio(long[n_long > 0]))
    assert m["short_sharpe"] == pytest.approx(stats.sharpe_ratio(short[n_short > 0]))
    assert (m["days_without_long"], m["days_without_short"]) == (2, 2)
    assert m["days_without_positions"] == 1
    assert m["n_test_days"] == 30


# --------------------------------------------------------------------------- calendar
def test_annualisation_uses_the_runs_periods():
    from alpha_core.evaluation.metrics import compute_metrics
    from alpha_core.portfolio.backtest import add_costs

    preds = preds_frame()
    books = form_books(rank_predictions(preds), 0.2, 0.2)
    daily = add_costs(daily_returns(books, preds), books, preds["date"], 10.0, 365.0, 52)
    assert daily["borrow_cost"].to_list() == pytest.approx([1.0 * 365e-4 / 52] * 2)
    m = compute_metrics(daily, preds, {}, periods=52)
    ls = daily["long_short"].to_numpy()
    assert m["sharpe"] == pytest.approx(ls.mean() / ls.std(ddof=1) * math.sqrt(52))
    assert m["annual_volatility"] == pytest.approx(ls.std(ddof=1) * math.sqrt(52))
    assert m["cost_annual"] == pytest.approx(daily["cost"].mean() * 52)
    assert m["cagr"] == pytest.approx(np.prod(1 + ls) ** (52 / 2) - 1)
