"""Daily books: cross-sectional percentile ranks of the predictions, long top / short bottom.

Rank convention: within a date with n scored assets, ``rank = (r - 0.5) / n`` where r is the
average 1-based rank of the prediction (ties share a rank; this is the ``rank`` column and
the ``rank`` sizing). Membership uses the same formula on the *ordinal* position p of the
prediction: an asset is long when ``(p - 0.5) / n >= 1 - long_pct`` and short when
``(p - 0.5) / n <= short_pct``; the two rules mirror each other, so equal percentiles give
equal book sizes, ``round(n * pct)`` names a side. The median asset is never in both books.
With ``sector_neutral`` the rank is taken within the asset's group (sector or asset class)
on that date, so every group contributes its own top and bottom.

Ties (deterministic): among equal predictions the asset whose name sorts first takes the
lower position. So tied names at the top enter the long book from the last name
backwards, tied names at the bottom enter the short book from the first name on, and each
side still holds the number of names its percentile implies instead of one side taking
every tied name (or, with every prediction equal, neither side holding any).

Sizing (:func:`build_books`): within a side, weights are proportional to a positive base
(equal; ``|rank - 0.5|``; ``|prediction - the date's median prediction|``; ``1 / vol_20``
at the decision date, which is known at close t) and scaled so that long weights sum to
``+gross_long`` and short weights to ``-gross_short``. Limits are then enforced by
iterative capping (:func:`cap_weights`): an asset above ``max_weight`` is set to the cap, a
group (sector / asset class) of a side above ``max_sector_weight`` is scaled down to it, and
the excess is spread over the remaining uncapped names of that side in proportion to their
weights, repeating until no limit is violated. When the limits cannot hold the target
(e.g. 4 names with a 0.2 cap cannot carry a gross of 1), the side is left under-invested
and the book's date is counted as infeasible; with equal targets (dollar-neutral, the
default) the other side of that date is then scaled down to the same gross, so the book
stays dollar-neutral.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import polars as pl

from alpha_core.base.csvsafe import csv_text
from alpha_core.base.settings import ConfigError
from alpha_core.data.panel import strictly_increasing
from alpha_core.features.transforms import percentile_rank
from alpha_core.portfolio.settings import PortfolioSettings
from alpha_core.portfolio.sizing import RANK, SIZINGS
from alpha_core.portfolio.turnover import (
    buffered_sides,
    cap_turnover,
    hold_between,
    rebalance_dates,
    smooth_predictions,
)
from alpha_core.signals.predictions import PREDICTION

CAPPED = "capped"
BOOK_COLUMNS = ("date", "asset", "side", "weight", PREDICTION, RANK)
SIDES = ("long", "short")
_TOL = 1e-9


def side_book(books: pl.DataFrame, day: date, side: str) -> pl.DataFrame:
    """The ``side`` ("long" or "short") book decided on ``day``, strongest name first.

    Long rows are sorted by rank descending, short rows by rank ascending; every column of
    ``books`` is kept.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    rows = books.filter((pl.col("date") == day) & (pl.col("side") == side))
    return rows.sort(RANK, descending=side == "long")


EXPORT_COLUMNS = BOOK_COLUMNS
"""Columns of every exported book CSV: date, asset, side, weight, prediction, rank."""


def books_csv(books: pl.DataFrame, day: date | None = None) -> str:
    """Books as CSV text with :data:`EXPORT_COLUMNS` (one date, or every date when ``None``),
    text cells neutralised for spreadsheets (:mod:`alpha_core.base.csvsafe`)."""
    rows = books if day is None else books.filter(pl.col("date") == day)
    return csv_text(rows.select(EXPORT_COLUMNS))


def rank_predictions(preds: pl.DataFrame, within: str | None = None) -> pl.DataFrame:
    """Add the per-date percentile ``rank`` in (0, 1) of each prediction.

    ``within`` names a column (e.g. ``sector``) to rank inside each (date, group) instead.
    """
    keys = ["date"] if within is None else ["date", within]
    return preds.with_columns(percentile_rank(pl.col(PREDICTION), keys).alias(RANK))


def form_books(
    ranked: pl.DataFrame,
    long_pct: float,
    short_pct: float,
    gross_long: float = 1.0,
    gross_short: float = 1.0,
    within: str | None = None,
    hold_buffer: float = 0.0,
) -> pl.DataFrame:
    """Equal-weight long and short books for every date (and ``within`` group) of ranked
    predictions; ties are broken by asset name (see the module doc). With ``hold_buffer``
    a name held the previous date stays while within its percentile plus the buffer
    (:func:`alpha_core.portfolio.turnover.buffered_sides`)."""
    eps = 1e-12
    position = _ordinal_rank(ranked, ["date"] if within is None else ["date", within])
    if hold_buffer > 0:
        side = buffered_sides(ranked, position, long_pct, short_pct, hold_buffer)
    else:
        side = (
            pl.when((position >= 1 - long_pct - eps) & (position > 0.5))
            .then(pl.lit("long"))
            .when((position <= short_pct + eps) & (position < 0.5))
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


def _ordinal_rank(ranked: pl.DataFrame, keys: list[str]) -> pl.Series:
    """``(p - 0.5) / n`` per row: p the 1-based position of the prediction within ``keys``,
    equal predictions ordered by asset name (in the rows' order, whatever it is)."""
    position = (pl.col(PREDICTION).rank("ordinal").over(keys) - 0.5) / pl.col(
        PREDICTION
    ).count().over(keys)
    if strictly_increasing(ranked, "date", "asset"):  # ties meet in asset order: no sorting
        return ranked.select(position.alias("_p"))["_p"]
    order = ranked.select(*keys, PREDICTION, "asset").with_row_index("_row")
    positions = order.sort([*keys, "asset"]).with_columns(position.alias("_p")).sort("_row")
    return positions["_p"]


def cap_weights(
    base: np.ndarray,
    group: np.ndarray,
    target: np.ndarray,
    max_weight: float | None = None,
    sector: np.ndarray | None = None,
    max_sector_weight: float | None = None,
    max_iter: int = 500,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive weights proportional to ``base`` within each ``group``, summing to ``target``.

    ``group`` holds integer ids 0..G-1 (a date and side), ``target`` the gross of each group;
    ``sector`` integer ids of (group, sector) cells for the sector cap. Returns
    ``(weights, capped, infeasible)``: ``capped`` marks names held at a limit (their own or
    their sector's), ``infeasible`` the groups whose limits cannot hold the target.
    """
    n_groups = target.size
    base = np.asarray(base, dtype=float)
    present = np.bincount(group, minlength=n_groups) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        w = base * (target / np.bincount(group, base, minlength=n_groups))[group]
    frozen = np.zeros(w.size, dtype=bool)
    n_sec = int(sector.max()) + 1 if sector is not None and sector.size else 0
    for _ in range(max_iter):
        violated = False
        if max_weight is not None:
            over = ~frozen & (w > max_weight * (1 + _TOL))
            if over.any():
                w[over] = max_weight
                frozen |= over
                violated = True
        if max_sector_weight is not None and sector is not None and n_sec:
            totals = np.bincount(sector, w, minlength=n_sec)
            over_sec = totals > max_sector_weight * (1 + _TOL)
            if over_sec.any():
                members = over_sec[sector]
                w[members] *= max_sector_weight / totals[sector[members]]
                frozen |= members
                violated = True
        if not violated:
            break
        deficit = target - np.bincount(group, w, minlength=n_groups)
        free = np.bincount(group, np.where(frozen, 0.0, w), minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(free > 0, (free + deficit) / free, 1.0)
        w = np.where(frozen, w, w * scale[group])
    final = np.bincount(group, w, minlength=n_groups)
    infeasible = present & (final < target * (1 - 1e-7))
    return w, frozen, infeasible


def _rebalance_sides(w: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Dollar-neutral targets: scale the larger side of a date down to the smaller one.

    Groups ``2d`` and ``2d + 1`` are the long and short side of date d; a date holding only
    one side is left as it is.
    """
    totals = np.bincount(group, w, minlength=n_groups + (n_groups % 2))
    pairs = totals.reshape(-1, 2)
    both = (pairs > 0).all(axis=1)
    matched = np.where(both, pairs.min(axis=1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(both[:, None], matched[:, None] / pairs, 1.0).ravel()
    return w * scale[group]


def _base_weights(book: pl.DataFrame, sizing: str) -> np.ndarray:
    """Positive sizing base per book row; invalid values fall back to the side's median."""
    if sizing not in SIZINGS:
        raise ValueError(f"unknown sizing {sizing!r}")
    raw = SIZINGS[sizing](book)
    if raw is None:
        return np.ones(book.height)
    frame = book.select("date", "side").with_columns(
        pl.Series("_b", raw.cast(pl.Float64).to_numpy())
    )
    ok = pl.col("_b").is_finite() & (pl.col("_b") > 0)
    valid = pl.when(ok).then(pl.col("_b"))
    filled = frame.select(
        pl.coalesce(valid, valid.median().over("date", "side"), pl.lit(1.0)).alias("_b")
    )
    return filled["_b"].to_numpy()


def _has_groups(preds: pl.DataFrame, column: str) -> bool:
    """True when ``column`` exists and holds a group other than null or "unknown"."""
    if column not in preds.columns:
        return False
    known = preds[column].cast(pl.Utf8).drop_nulls()
    return bool((known != "unknown").any())


def build_books(
    preds: pl.DataFrame, config: PortfolioSettings
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Books with the config's ranking, sizing and limits, and a summary of binding limits.

    Returns ``(books, summary)``; books have :data:`BOOK_COLUMNS`, any extra prediction
    columns and ``capped`` (True where a name sits at its own or its group's limit).
    """
    group_col = config.limit_group
    need_group = config.sector_neutral or config.max_sector_weight is not None
    if need_group and not _has_groups(preds, group_col):
        raise ConfigError(
            f"sector_neutral / max_sector_weight need a {group_col!r} column in the predictions "
            "with known values (this data has none: they cannot take effect)",
            field="sector_neutral" if config.sector_neutral else "max_sector_weight",
        )
    frame = _decision_rows(preds, config)
    if need_group:
        frame = frame.with_columns(pl.col(group_col).fill_null("unknown"))
    if config.sizing == "score":
        frame = frame.with_columns(pl.col(PREDICTION).median().over("date").alias("_median_pred"))
    ranked = rank_predictions(frame, within=group_col if config.sector_neutral else None)
    within = group_col if config.sector_neutral else None
    books = form_books(
        ranked, config.long_pct, config.short_pct, within=within, hold_buffer=config.hold_buffer
    )
    base = _base_weights(books, config.sizing)
    books = books.drop("_median_pred", strict=False).select(pl.exclude("^fwd_ret_.*$"))

    ids = books.select(
        (pl.col("date").rank("dense").cast(pl.Int64) * 2 - 1 + (pl.col("side") == "short"))
        .sub(1)
        .alias("g"),
        (
            pl.struct("date", "side", group_col).rank("dense").cast(pl.Int64) - 1
            if config.max_sector_weight is not None
            else pl.lit(0, dtype=pl.Int64)
        ).alias("s"),
    )
    group = ids["g"].to_numpy()
    n_groups = int(group.max()) + 1 if group.size else 0
    is_short = np.zeros(n_groups, dtype=bool)
    is_short[group] = (books["side"] == "short").to_numpy()
    target = np.where(is_short, config.gross_short, config.gross_long)
    if group.size:
        w, capped, infeasible = cap_weights(
            base,
            group,
            target,
            config.max_weight,
            ids["s"].to_numpy() if config.max_sector_weight is not None else None,
            config.max_sector_weight,
        )
        if config.gross_long == config.gross_short and infeasible.any():
            w = _rebalance_sides(w, group, n_groups)
    else:
        w, capped, infeasible = np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    sign = np.where((books["side"] == "short").to_numpy(), -1.0, 1.0)
    books = books.with_columns(
        pl.Series("weight", sign * w), pl.Series(CAPPED, capped, dtype=pl.Boolean)
    )
    g_date = np.zeros(n_groups, dtype=np.int64)
    g_date[group] = books.select(pl.col("date").rank("dense").cast(pl.Int64))["date"].to_numpy()
    n_dates = int(np.unique(g_date).size) if n_groups else 0
    capped_dates = np.unique(g_date[group[capped]]).size if capped.any() else 0
    summary = {
        "capped_days": int(capped_dates),
        "capped_days_share": capped_dates / n_dates if n_dates else 0.0,
        "capped_positions_mean": float(capped.sum() / n_dates) if n_dates else 0.0,
        "limit_infeasible_days": int(np.unique(g_date[infeasible]).size),
    }
    if config.max_turnover is not None:
        books = cap_turnover(books, ranked, config.max_turnover)
    return hold_between(books, preds, config.rebalance_every), summary


def _decision_rows(preds: pl.DataFrame, config: PortfolioSettings) -> pl.DataFrame:
    """The rows books are formed on: smoothed predictions on the rebalance dates
    (:mod:`alpha_core.portfolio.turnover`; every row as it is at the defaults)."""
    frame = smooth_predictions(preds, config.smooth_days)
    if config.rebalance_every > 1:
        keep = rebalance_dates(preds["date"], config.rebalance_every)
        frame = frame.filter(pl.col("date").is_in(keep))
    return frame
