"""Daily books: cross-sectional percentile ranks of the predictions, long top / short bottom.

Rank convention: within a date with n scored assets, ``rank = (r - 0.5) / n`` where r is the
average 1-based rank of the prediction (ties share a rank). An asset is long when
``rank >= 1 - long_pct`` and short when ``rank <= short_pct``; the two rules mirror each
other, so equal percentiles give equal book sizes. The median asset (rank 0.5) is never in
both books. Weights are equal within a side: long weights sum to ``+gross_long``, short
weights to ``-gross_short``.
"""

from __future__ import annotations

import polars as pl

from alpha_core.predictions import PREDICTION

RANK = "rank"
BOOK_COLUMNS = ("date", "asset", "side", "weight", PREDICTION, RANK)


def rank_predictions(preds: pl.DataFrame) -> pl.DataFrame:
    """Add the per-date percentile ``rank`` in (0, 1) of each prediction."""
    n = pl.len().over("date")
    r = pl.col(PREDICTION).rank("average").over("date")
    return preds.with_columns(((r - 0.5) / n).alias(RANK))


def form_books(
    ranked: pl.DataFrame,
    long_pct: float,
    short_pct: float,
    gross_long: float = 1.0,
    gross_short: float = 1.0,
) -> pl.DataFrame:
    """Long and short books for every date of ranked predictions (see module doc)."""
    eps = 1e-12
    side = (
        pl.when((pl.col(RANK) >= 1 - long_pct - eps) & (pl.col(RANK) > 0.5))
        .then(pl.lit("long"))
        .when((pl.col(RANK) <= short_pct + eps) & (pl.col(RANK) < 0.5))
        .then(pl.lit("short"))
    )
    book = ranked.with_columns(side.alias("side")).filter(pl.col("side").is_not_null())
    count = pl.len().over("date", "side")
    weight = (
        pl.when(pl.col("side") == "long").then(gross_long / count).otherwise(-gross_short / count)
    )
    extra = [c for c in ranked.columns if c not in BOOK_COLUMNS]
    return (
        book.with_columns(weight.alias("weight"))
        .select(*BOOK_COLUMNS, *extra)
        .sort("date", "side", RANK, descending=[False, False, True])
    )
