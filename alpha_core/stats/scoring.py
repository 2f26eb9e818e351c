"""Judging a model's scores on a window of dates: the validation criterion and prediction ties.

Both work on one date's cross-section at a time, the way the books use the scores.

* The **validation criterion** is the mean daily rank IC: on each date with at least
  ``MIN_ASSETS`` scored rows, Spearman's correlation of the score with the realised label
  (average ranks for ties), averaged over dates. Any per-date increasing transform of the
  label (demean, rank, zscore) leaves it unchanged, so candidates trained on different
  targets are compared on the same footing. It is the ``rank_ic_mean`` of
  :mod:`alpha_core.evaluation.metrics`, computed here so the model stage need not import the report
  stage.
* A **tied** score is one shared with another asset on the same date. A model with very few
  trees gives a few distinct values a day (one tree: at most its leaves), so the books
  would be ranked by row order; ``TIE_LIMIT`` is where that counts as collapsed.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

MIN_ASSETS = 3
"""Dates with fewer scored rows are left out of the mean daily rank IC."""
TIE_LIMIT = 0.5
"""A date is *tied* when more than this share of its scores is shared with another asset."""


def mean_daily_rank_ic(dates: pl.Series, score: np.ndarray, label: pl.Series) -> float:
    """Mean over dates of Spearman(score, label) on each date's rows (NaN when no date counts)."""
    frame = pl.DataFrame({"date": dates, "score": score, "label": label}).filter(
        pl.col("label").is_not_null()
    )
    daily = (
        frame.group_by("date")
        .agg(pl.corr("score", "label", method="spearman").alias("ic"), pl.len().alias("n"))
        .filter(pl.col("n") >= MIN_ASSETS)
        .sort("date")  # a fixed order of summation: the same bits on every call
        .get_column("ic")
        .fill_nan(None)
        .drop_nulls()
    )
    return float(daily.mean()) if daily.len() else math.nan  # type: ignore[arg-type]


def daily_tie_share(dates: pl.Series, score: pl.Series | np.ndarray) -> pl.DataFrame:
    """``date, tie_share``: the share of each date's scores equal to another asset's score."""
    frame = pl.DataFrame({"date": dates, "score": score})
    tied = pl.len().over("date", "score") > 1
    return (
        frame.with_columns(tied.alias("tied"))
        .group_by("date")
        .agg(pl.col("tied").mean().alias("tie_share"))
        .sort("date")
    )


def tie_summary(dates: pl.Series, score: pl.Series | np.ndarray) -> dict[str, float | int]:
    """``tie_share_mean`` (mean daily share of tied scores) and ``tied_days`` (dates whose
    share exceeds :data:`TIE_LIMIT`) of a window's scores."""
    shares = daily_tie_share(dates, score)["tie_share"]
    if shares.len() == 0:
        return {"tie_share_mean": math.nan, "tied_days": 0, "n_days": 0}
    return {
        "tie_share_mean": float(shares.mean()),  # type: ignore[arg-type]
        "tied_days": int((shares > TIE_LIMIT).sum()),
        "n_days": shares.len(),
    }
