"""Turnover control of the books: smoothing, a hold buffer, a rebalance interval, a cap.

Each is a run setting (:class:`alpha_core.config.RunConfig`) applied by
:func:`alpha_core.portfolio.books.build_books`, so a rebook applies it too; each is off at its
default
and the books are then exactly those of the daily top/bottom rule. In order:

1. **Smoothing** (``smooth_days`` N): an asset is ranked by the mean of its last N
   predictions (its own rows up to and including the decision date t, fewer at the start of
   the window), so nothing after t enters. The books' ``prediction`` column is that mean.
2. **Rebalance interval** (``rebalance_every`` k): books are formed on the 1st, (k+1)-th,
   (2k+1)-th ... date of the predictions; on the dates between, the last book is held with
   the same weights (no drift: a held weight is the weight decided, so turnover is 0 on
   those dates), and each held name earns that date's label.
3. **Hold buffer** (``hold_buffer`` b): on a rebalance date a name enters the long book when
   its position is in the top ``long_pct`` and stays in it while it is in the top
   ``long_pct + b`` (the short book mirrors it at the bottom), the idea of Qlib's
   TopkDropout. The names a book keeps are those of the previous rebalance's book (before any
   turnover cap). Sizing and limits then apply to the members as usual.
4. **Turnover cap** (``max_turnover`` X): on each rebalance date the trade from the book
   held to the target book is scaled by ``a = min(1, X / sum_a |target - held|)``, so
   ``sum_a |w_t - w_t-1| <= X``; the first book is built from cash the same way. A capped
   book is a convex combination of two books that obey the weight and group limits and are
   dollar-neutral, so it obeys them too (its gross can be lower). Names being sold down keep
   their date's prediction and rank.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from alpha_core.features.library import LABEL
from alpha_core.signals.predictions import PREDICTION

_EPS = 1e-12


def smooth_predictions(preds: pl.DataFrame, days: int) -> pl.DataFrame:
    """``preds`` with each prediction replaced by the mean of the asset's last ``days``
    predictions up to its own date (no later row enters); the rows' order is kept."""
    if days <= 1:
        return preds
    smoothed = (
        preds.select("date", "asset", PREDICTION)
        .with_row_index("_row")
        .sort("asset", "date")
        .with_columns(
            pl.col(PREDICTION).rolling_mean(days, min_samples=1).over("asset").alias("_smooth")
        )
        .sort("_row")
    )
    return preds.with_columns(smoothed["_smooth"].alias(PREDICTION))


def rebalance_dates(dates: pl.Series, every: int) -> list[date]:
    """The 1st, (every+1)-th, (2 every+1)-th ... of the sorted unique ``dates``."""
    return dates.unique().sort().to_list()[::every]


def buffered_sides(
    frame: pl.DataFrame, position: pl.Series, long_pct: float, short_pct: float, buffer: float
) -> pl.Series:
    """``side`` ("long", "short" or null) of each row of ``frame`` (``date``, ``asset``)
    with a hold buffer: ``position`` is the row's ``(p - 0.5) / n`` within its date (or
    group); a name held on the previous date stays while within ``pct + buffer``."""
    dates = frame["date"].to_numpy()
    assets = frame["asset"].cast(pl.Utf8).to_numpy()
    pos = position.to_numpy()
    side = np.full(frame.height, None, dtype=object)
    order = np.argsort(dates, kind="stable")
    cuts = np.flatnonzero(np.diff(dates[order].astype("datetime64[D]").astype(np.int64))) + 1
    held_long: set[str] = set()
    held_short: set[str] = set()
    for rows in np.split(order, cuts):
        p, names = pos[rows], assets[rows]
        kept_long = np.fromiter((a in held_long for a in names), bool, rows.size)
        kept_short = np.fromiter((a in held_short for a in names), bool, rows.size)
        is_long = (p > 0.5) & (
            (p >= 1 - long_pct - _EPS) | (kept_long & (p >= 1 - long_pct - buffer - _EPS))
        )
        is_short = (p < 0.5) & (
            (p <= short_pct + _EPS) | (kept_short & (p <= short_pct + buffer + _EPS))
        )
        side[rows[is_long]] = "long"
        side[rows[is_short]] = "short"
        held_long, held_short = set(names[is_long]), set(names[is_short])
    return pl.Series("side", side.tolist(), dtype=pl.Utf8)


def cap_turnover(books: pl.DataFrame, ranked: pl.DataFrame, max_turnover: float) -> pl.DataFrame:
    """Books whose daily turnover is at most ``max_turnover`` (see the module doc).

    ``books`` are the target books by date; ``ranked`` the scored rows (with ``rank`` and
    every extra column of the books), from which names being sold down take their columns.
    """
    if books.height == 0:
        return books
    dates = books["date"].unique().sort()
    assets = books["asset"].unique().sort()
    d_idx = (
        books["date"]
        .to_frame()
        .join(dates.to_frame().with_row_index("_d"), on="date", how="left")["_d"]
    )
    a_idx = (
        books["asset"]
        .to_frame()
        .join(assets.to_frame().with_row_index("_a"), on="asset", how="left")["_a"]
    )
    target = np.zeros((dates.len(), assets.len()))
    target[d_idx.to_numpy(), a_idx.to_numpy()] = books["weight"].to_numpy()
    held = np.zeros(assets.len())
    weights = np.zeros_like(target)
    for t in range(dates.len()):
        trade = target[t] - held
        size = float(np.abs(trade).sum())
        held = target[t].copy() if size <= max_turnover else held + trade * (max_turnover / size)
        weights[t] = held
    d, a = np.nonzero(weights)
    capped = pl.DataFrame(
        {"date": dates.gather(d), "asset": assets.gather(a), "weight": weights[d, a]}
    )
    keys = ["date", "asset"]
    columns = [c for c in books.columns if c not in ("side", "weight")]
    from_target = capped.join(books.select(columns), on=keys, how="inner")
    fading = capped.join(books.select(keys), on=keys, how="anti")
    rest = [c for c in columns if c not in keys]
    fading = fading.join(
        ranked.select(*keys, *[c for c in rest if c in ranked.columns]), on=keys, how="left"
    )
    out = pl.concat([from_target, fading], how="diagonal_relaxed")
    side = pl.when(pl.col("weight") > 0).then(pl.lit("long")).otherwise(pl.lit("short"))
    fill = [pl.col(c).fill_null(False) for c in ("capped",) if c in out.columns]
    return (
        out.with_columns(side.alias("side"), *fill)
        .select(books.columns)
        .sort("date", "side", "rank", descending=[False, False, True])
    )


def hold_between(books: pl.DataFrame, preds: pl.DataFrame, every: int) -> pl.DataFrame:
    """Books for every date of ``preds``: each rebalance date's book held until the next.

    A held row keeps its decision's weight, prediction and rank; its ``label`` (when the
    books carry one) is the realised return of the date it is held on.
    """
    if every <= 1 or books.height == 0:
        return books
    all_dates = preds["date"].unique().sort()
    decided = pl.Series("_decided", rebalance_dates(all_dates, every), dtype=all_dates.dtype)
    calendar = (
        all_dates.to_frame()
        .join_asof(decided.to_frame().sort("_decided"), left_on="date", right_on="_decided")
        .filter(pl.col("_decided").is_not_null())
    )
    held = books.rename({"date": "_decided"}).join(calendar, on="_decided", how="inner")
    if LABEL in books.columns:
        held = held.drop(LABEL).join(
            preds.select("date", "asset", LABEL), on=["date", "asset"], how="left"
        )
    return held.select(books.columns).sort("date", "side", "rank", descending=[False, False, True])
