"""Daily P&L of the books, decided at close t and earned over the label's period.

Returns are keyed by the decision date t. A position whose label is missing (the asset has
no later bar, e.g. it delisted) earns 0 that day; dates with no realised label at all (the
latest date, whose book is for tomorrow) are left out. The benchmark is the equal-weight
mean label of every scored asset that day.
"""

from __future__ import annotations

import polars as pl

from alpha_core.features import LABEL

DAILY_COLUMNS = ("date", "long", "short", "long_short", "benchmark", "n_long", "n_short")


def daily_returns(books: pl.DataFrame, preds: pl.DataFrame) -> pl.DataFrame:
    """Per-date long, short (P&L of the short side) and long-short returns, with benchmark."""
    realised = preds.group_by("date").agg(
        pl.col(LABEL).mean().alias("benchmark"), pl.col(LABEL).is_not_null().any().alias("_ok")
    )
    pnl = (
        books.join(preds.select("date", "asset", LABEL), on=["date", "asset"], how="left")
        .with_columns((pl.col("weight") * pl.col(LABEL).fill_null(0.0)).alias("_pnl"))
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
