"""Daily P&L of the books, decided at close t and earned over the label's period; costs.

Returns are keyed by the decision date t. A position whose label is missing (the asset has
no later bar, e.g. it delisted) earns 0 that day; dates with no realised label at all (the
latest date, whose book is for tomorrow) are left out. The benchmark is the equal-weight
mean label of every scored asset that day.

Costs (:func:`add_costs`): the book of date t is traded at close t, so its turnover
``sum_a |w_t,a - w_t-1,a|`` (a name entering from or exiting to zero counts in full; the
first book is bought from cash) costs ``cost_bps / 1e4`` per unit and is charged to the
return keyed by t; the short book pays ``borrow_bps / 1e4 / periods`` per bar on its gross
(``periods``: bars a year of the run's calendar, 252 for daily equities).
``long_short`` stays the gross return; ``long_short_net = long_short - cost``.
"""

from __future__ import annotations

import polars as pl

from alpha_core.features.library import LABEL

DAILY_COLUMNS = ("date", "long", "short", "long_short", "benchmark", "n_long", "n_short")
COST_COLUMNS = (
    "turnover",
    "trade_cost",
    "borrow_cost",
    "cost",
    "long_short_net",
    "gross_long",
    "gross_short",
    "n_capped",
)


def daily_returns(books: pl.DataFrame, preds: pl.DataFrame) -> pl.DataFrame:
    """Per-date long, short (P&L of the short side) and long-short returns, with benchmark."""
    realised = preds.group_by("date").agg(
        pl.col(LABEL).mean().alias("benchmark"), pl.col(LABEL).is_not_null().any().alias("_ok")
    )
    held = (  # books carry their predictions' label; else it is looked up
        books.select("date", "asset", "side", "weight", LABEL)
        if LABEL in books.columns
        else books.select("date", "asset", "side", "weight").join(
            preds.select("date", "asset", LABEL), on=["date", "asset"], how="left"
        )
    )
    pnl = (
        held.with_columns((pl.col("weight") * pl.col(LABEL).fill_null(0.0)).alias("_pnl"))
        .group_by("date")
        .agg(
            pl.col("_pnl").filter(pl.col("side") == "long").sum().alias("long"),
            pl.col("_pnl").filter(pl.col("side") == "short").sum().alias("short"),
            (pl.col("side") == "long").sum().alias("n_long"),
            (pl.col("side") == "short").sum().alias("n_short"),
        )
    )
    return (
        realised.filter(pl.col("_ok"))
        .join(pnl, on="date", how="left")
        .with_columns(
            pl.col("long", "short").fill_null(0.0),
            pl.col("n_long", "n_short").fill_null(0).cast(pl.Int64),
        )
        .with_columns((pl.col("long") + pl.col("short")).alias("long_short"))
        .select(DAILY_COLUMNS)
        .sort("date")
    )


def turnover(books: pl.DataFrame, dates: pl.Series) -> pl.DataFrame:
    """``date, turnover, gross_long, gross_short, n_capped`` for every date in ``dates``.

    ``turnover_t = sum_a |w_t,a - w_t-1,a|`` with absent names at weight 0; the date before
    the first is an empty book, so the first turnover is the first book's gross.
    """
    index = pl.DataFrame({"date": dates.unique().sort()}).with_row_index("_i")
    w = books.select("date", "asset", "weight", *_capped(books)).join(index, on="date", how="inner")
    prev = w.select(pl.col("_i") + 1, "asset", pl.col("weight").alias("_prev"))
    diff = (
        w.select("_i", "asset", "weight")
        .join(prev, on=["_i", "asset"], how="full", coalesce=True)
        .filter(pl.col("_i") < index.height)
        .group_by("_i")
        .agg((pl.col("weight").fill_null(0.0) - pl.col("_prev").fill_null(0.0)).abs().sum())
        .rename({"weight": "turnover"})
    )
    capped = pl.col("capped").sum() if "capped" in books.columns else pl.lit(0)
    expo = w.group_by("_i").agg(
        pl.col("weight").clip(lower_bound=0).sum().alias("gross_long"),
        (-pl.col("weight").clip(upper_bound=0)).sum().alias("gross_short"),
        capped.cast(pl.Int64).alias("n_capped"),
    )
    return (
        index.join(diff, on="_i", how="left")
        .join(expo, on="_i", how="left")
        .with_columns(
            pl.col("turnover", "gross_long", "gross_short").fill_null(0.0),
            pl.col("n_capped").fill_null(0),
        )
        .sort("_i")
        .drop("_i")
    )


def _capped(books: pl.DataFrame) -> list[str]:
    return ["capped"] if "capped" in books.columns else []


def add_costs(
    daily: pl.DataFrame,
    books: pl.DataFrame,
    dates: pl.Series,
    cost_bps: float = 0.0,
    borrow_bps: float = 0.0,
    periods: int = 252,
) -> pl.DataFrame:
    """Daily P&L with turnover, trading and borrow costs and the net long-short return
    (the annual borrow fee is charged ``1 / periods`` per bar)."""
    trades = turnover(books, dates)
    return (
        daily.join(trades, on="date", how="left")
        .with_columns(
            pl.col("turnover", "gross_long", "gross_short").fill_null(0.0),
            pl.col("n_capped").fill_null(0),
        )
        .with_columns(
            (pl.col("turnover") * cost_bps / 1e4).alias("trade_cost"),
            (pl.col("gross_short") * borrow_bps / 1e4 / periods).alias("borrow_cost"),
        )
        .with_columns((pl.col("trade_cost") + pl.col("borrow_cost")).alias("cost"))
        .with_columns((pl.col("long_short") - pl.col("cost")).alias("long_short_net"))
        .select(*DAILY_COLUMNS, *COST_COLUMNS)
        .sort("date")
    )
