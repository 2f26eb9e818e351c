"""Books, daily P&L and IC against hand computations on small examples."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from alpha_core.backtest import daily_returns
from alpha_core.books import books_csv, form_books, rank_predictions, side_book
from alpha_core.metrics import daily_ic, ic_metrics, rmse

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
