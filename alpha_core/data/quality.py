"""Data quality: report (never fix) problems in a canonical panel, and infer its calendar.

:func:`check_quality` runs every check in :data:`CHECKS` and returns a :class:`QualityReport`
(one row per finding: check, asset, date, detail). Loading a panel lives in
:mod:`alpha_core.data.panel`; a panel with problems still loads, and the report lists them. The
findings in :data:`BAD_BAR_CHECKS` make a bar unusable; a run applies its ``on_bad_bars``
policy to them (:mod:`alpha_core.research.contract`). Zero volume, missing volume and extreme moves
are findings only: they happen in real markets.

:func:`infer_calendar` reads the bar frequency and the bars per year (252 for a weekday
calendar, 365 when every day trades, 52 weekly, 12 monthly) from the dates themselves; every
annualisation of a run uses it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from alpha_core.data.panel import OPTIONAL_COLUMNS, PRICE_COLUMNS, strictly_increasing

CHECKS = (
    "missing_column",
    "duplicate",
    "missing_price",
    "non_finite",
    "non_positive_price",
    "ohlc_out_of_order",
    "negative_volume",
    "zero_volume",
    "missing_volume",
    "extreme_move",
    "stray_bar",
)
"""Every check :func:`check_quality` runs, in report order."""

BAD_BAR_CHECKS = (
    "missing_price",
    "non_finite",
    "non_positive_price",
    "ohlc_out_of_order",
    "negative_volume",
    "stray_bar",
)
"""Findings that make a bar unusable: a run refuses, drops or keeps them (``on_bad_bars``).

A missing price counts only in a column that has values elsewhere (a column absent from the
source is ``missing_column``, and the features that need it are left out instead)."""

OHLC_TOLERANCE = 1e-6
"""Relative slack of the OHLC-order check: ``high >= max(open, close) * (1 - tol)`` and so
on, so prices scaled by an adjustment factor (off by ~1e-16) are not reported."""

STRAY_SHARE = 0.25
"""A date is a stray date when fewer than this share of the assets listed then (first bar
<= date <= last bar) have a bar on it; each of its bars is a ``stray_bar``. Weekend bars of
a weekday calendar are stray whatever their number."""

_LABELS = {
    "missing_column": ("optional column with no values", "optional columns with no values"),
    "duplicate": ("duplicated (asset, date) key", "duplicated (asset, date) keys"),
    "missing_price": ("row with missing prices", "rows with missing prices"),
    "non_finite": ("row with infinite values", "rows with infinite values"),
    "non_positive_price": ("row with non-positive prices", "rows with non-positive prices"),
    "ohlc_out_of_order": ("row with OHLC out of order", "rows with OHLC out of order"),
    "negative_volume": ("row with negative volume", "rows with negative volume"),
    "zero_volume": ("row with zero volume", "rows with zero volume"),
    "missing_volume": ("row with missing volume", "rows with missing volume"),
    "extreme_move": ("extreme one-day move", "extreme one-day moves"),
    "stray_bar": (
        "stray bar on a date almost no other asset trades",
        "stray bars on dates almost no other asset trades",
    ),
}

_ISSUE_SCHEMA = {"check": pl.Utf8, "asset": pl.Utf8, "date": pl.Date, "detail": pl.Utf8}


def describe(check: str, n: int) -> str:
    """``n`` findings of ``check`` in words, e.g. "12 rows with OHLC out of order"."""
    return f"{n} {_LABELS[check][n != 1]}"


@dataclass(frozen=True)
class QualityReport:
    """Findings of :func:`check_quality`, one row each: check, asset, date, detail.

    ``asset``/``date`` are null for findings that are not about one asset/row.
    """

    issues: pl.DataFrame
    extreme_move: float = 0.4

    def counts(self) -> dict[str, int]:
        """Number of findings per check; every check in :data:`CHECKS` is present."""
        found = dict(self.issues["check"].value_counts().iter_rows())
        return {c: int(found.get(c, 0)) for c in CHECKS}

    def is_clean(self) -> bool:
        """True when there is no finding at all."""
        return self.issues.height == 0

    def summary_lines(self) -> list[str]:
        """One line per check with findings, e.g. "12 rows with OHLC out of order, e.g. ..."."""
        lines = []
        for check, n in self.counts().items():
            if not n:
                continue
            line = describe(check, n)
            if check == "extreme_move":
                line += f" (|close / previous close - 1| > {self.extreme_move:g})"
            rows = self.issues.filter(pl.col("check") == check)
            if check == "missing_column":
                names = [d.split(":")[0] for d in rows["detail"]]
                line += " (absent from the source or all null): " + ", ".join(names)
            else:
                rows = rows.head(3)
                shown = [
                    f"{a} {d}" if d is not None else a
                    for a, d in rows.select("asset", "date").iter_rows()
                ]
                line += ", e.g. " + ", ".join(shown) + (" ..." if n > 3 else "")
            lines.append(line)
        return lines or ["no data quality issues found"]


def check_quality(panel: pl.DataFrame, extreme_move: float = 0.4) -> QualityReport:
    """Report (never fix) data problems in a panel; see :data:`CHECKS` for the checks run.

    Row-level checks ignore an optional column that has no values at all; that column is
    reported once as ``missing_column`` instead. NaN counts as missing, an infinite value as
    ``non_finite`` (and no other check looks at that row). OHLC order allows a relative
    slack of :data:`OHLC_TOLERANCE`. Extreme moves compare each close with the asset's
    previous non-missing close (panel sorted by asset, date). Stray bars: see
    :data:`STRAY_SHARE`.
    """
    if extreme_move <= 0:
        raise ValueError(f"extreme_move must be > 0, got {extreme_move}")
    df = _quality_frame(panel)
    empty = [c for c in OPTIONAL_COLUMNS if df[c].null_count() == df.height and df.height > 0]
    present = [c for c in PRICE_COLUMNS if c not in empty]
    finite = ~pl.any_horizontal(_infinite(c) for c in (*PRICE_COLUMNS, "volume"))
    parts = [
        _missing_columns(empty),
        _duplicates(df),
        _rows(
            df,
            "missing_price",
            pl.any_horizontal(pl.col(c).is_null() for c in present),
            _listing(present, lambda c: pl.col(c).is_null(), " missing"),
        ),
        _rows(
            df,
            "non_finite",
            ~finite,
            _listing([*PRICE_COLUMNS, "volume"], _infinite, " infinite"),
        ),
        _rows(
            df,
            "non_positive_price",
            finite & pl.any_horizontal(pl.col(c) <= 0 for c in present),
            _listing(present, lambda c: pl.col(c) <= 0, " <= 0"),
        ),
        _rows(df, "ohlc_out_of_order", finite & _ohlc_disorder(), _ohlc_detail()),
        _rows(df, "negative_volume", finite & (pl.col("volume") < 0), _volume_detail()),
        _rows(df, "zero_volume", pl.col("volume") == 0, pl.lit("volume 0")),
        _rows(
            df,
            "missing_volume",
            pl.col("volume").is_null() & ("volume" not in empty),
            pl.lit("volume missing"),
        ),
        _extreme_moves(df.filter(finite), extreme_move),
        stray_bars(df),
    ]
    order = {c: i for i, c in enumerate(CHECKS)}
    issues = (
        pl.concat(parts)
        .with_columns(pl.col("check").replace_strict(order, return_dtype=pl.Int32).alias("_k"))
        .sort("_k", "asset", "date", maintain_order=True, nulls_last=False)
        .drop("_k")
    )
    return QualityReport(issues=issues, extreme_move=extreme_move)


def _quality_frame(panel: pl.DataFrame) -> pl.DataFrame:
    """date, asset and Float64 OHLCV (NaN as null, absent columns as null), sorted."""
    cols = [
        pl.col(c).cast(pl.Float64).fill_nan(None)
        if c in panel.columns
        else pl.lit(None, pl.Float64).alias(c)
        for c in (*PRICE_COLUMNS, "volume")
    ]
    return panel.select("date", "asset", *cols).sort("asset", "date", maintain_order=True)


def _missing_columns(empty: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "check": ["missing_column"] * len(empty),
            "asset": [None] * len(empty),
            "date": [None] * len(empty),
            "detail": [f"{c}: no values (absent from the source or all null)" for c in empty],
        },
        schema=_ISSUE_SCHEMA,
    )


def duplicate_bars(panel: pl.DataFrame) -> pl.DataFrame:
    """``asset, date, len`` for every (asset, date) held by more than one row."""
    if strictly_increasing(panel):  # a canonical panel: sorted, so no key repeats
        return pl.DataFrame(schema={"asset": pl.Utf8, "date": pl.Date, "len": pl.UInt32})
    return panel.group_by("asset", "date", maintain_order=True).len().filter(pl.col("len") > 1)


def _duplicates(df: pl.DataFrame) -> pl.DataFrame:
    return duplicate_bars(df).select(
        pl.lit("duplicate").alias("check"),
        "asset",
        "date",
        pl.format("{} rows for this asset and date", pl.col("len")).alias("detail"),
    )


def _rows(df: pl.DataFrame, check: str, condition: pl.Expr, detail: pl.Expr) -> pl.DataFrame:
    return df.filter(condition.fill_null(False)).select(
        pl.lit(check).alias("check"), "asset", "date", detail.cast(pl.Utf8).alias("detail")
    )


def _listing(columns: list[str], flag, suffix: str) -> pl.Expr:
    """Comma-separated names of the columns where ``flag(column)`` holds, plus ``suffix``."""
    names = [pl.when(flag(c)).then(pl.lit(c)) for c in columns]
    return pl.concat_str(names, separator=", ", ignore_nulls=True) + pl.lit(suffix)


def _ohlc_disorder(tol: float = OHLC_TOLERANCE) -> pl.Expr:
    """high < max(open, close), low > min(open, close) or high < low, beyond a relative
    ``tol`` of the larger price; open may be missing."""
    high, low, close = pl.col("high"), pl.col("low"), pl.col("close")
    top = pl.max_horizontal("open", "close")
    bottom = pl.min_horizontal("open", "close")
    known = high.is_not_null() & low.is_not_null() & close.is_not_null()

    def below(a: pl.Expr, b: pl.Expr) -> pl.Expr:  # a < b by more than tol of |b|
        return a < b - tol * b.abs()

    return known & (below(high, top) | below(bottom, low) | below(high, low))


def _infinite(col: str) -> pl.Expr:
    return pl.col(col).is_infinite().fill_null(False)


def _volume_detail() -> pl.Expr:
    return pl.format("volume {}", pl.col("volume").round(4).cast(pl.Utf8))


def _ohlc_detail() -> pl.Expr:
    return pl.format(
        "open={} high={} low={} close={}",
        *(pl.col(c).round(4).cast(pl.Utf8).fill_null("null") for c in PRICE_COLUMNS),
    )


def _extreme_moves(df: pl.DataFrame, threshold: float) -> pl.DataFrame:
    prev = pl.col("close").forward_fill().shift(1).over("asset")
    move = pl.col("close") / pl.col("_prev") - 1
    return (
        df.with_columns(prev.alias("_prev"))
        .filter((pl.col("_prev") > 0) & (pl.col("close") > 0) & (move.abs() > threshold))
        .select(
            pl.lit("extreme_move").alias("check"),
            "asset",
            "date",
            pl.format(
                "close {} after {} ({}%)",
                pl.col("close").round(4),
                pl.col("_prev").round(4),
                (move * 100).round(1),
            ).alias("detail"),
        )
    )


def stray_bars(panel: pl.DataFrame, share: float = STRAY_SHARE) -> pl.DataFrame:
    """``stray_bar`` findings: bars on dates when almost no other listed asset trades.

    A date is stray when fewer than ``share`` of the assets listed then (first bar <= date
    <= last bar, at least two of them) have a bar, or when it falls on a weekend in a
    weekday calendar (:func:`infer_calendar`). Such dates would otherwise become test days
    whose book holds one or two names, or none.
    """
    dates = panel.select("date", "asset")  # duplicated bars are refused on their own
    per_date = dates.group_by("date").agg(pl.len().alias("n"))
    spans = dates.group_by("asset").agg(pl.col("date").min().alias("lo"), pl.col("date").max())
    starts = spans.group_by("lo").len().rename({"lo": "date", "len": "_in"})
    ends = spans.group_by("date").len().rename({"len": "_out"})
    live = (
        per_date.join(starts, on="date", how="left")
        .join(ends, on="date", how="left")
        .sort("date")
        .with_columns(pl.col("_in", "_out").fill_null(0))
        .with_columns(
            (pl.col("_in").cum_sum() - pl.col("_out").cum_sum().shift(1).fill_null(0)).alias("live")
        )
    )
    try:
        weekday_calendar = infer_calendar(live["date"]).days_per_week == 5
    except CalendarError:  # irregular dates: the run refuses them; the report still works
        weekday_calendar = False
    weekend = pl.col("date").dt.weekday() >= 6
    stray = live.filter(
        ((pl.col("live") >= 2) & (pl.col("n") < share * pl.col("live")))
        | (weekend & pl.lit(weekday_calendar))
    )
    return (
        panel.select("asset", "date")
        .join(stray.select("date", "n", "live"), on="date", how="inner")
        .select(
            pl.lit("stray_bar").alias("check"),
            "asset",
            "date",
            pl.format(
                "{} of {} listed assets trade on this {}",
                pl.col("n"),
                pl.col("live"),
                pl.col("date").dt.strftime("%A"),
            ).alias("detail"),
        )
        .sort("asset", "date")
    )


def bad_bars(report: QualityReport) -> pl.DataFrame:
    """``asset, date, check, detail`` of every bar a :data:`BAD_BAR_CHECKS` finding makes
    unusable, one row per bar (its first finding in report order), earliest date first."""
    return (
        report.issues.filter(pl.col("check").is_in(BAD_BAR_CHECKS))
        .unique(["asset", "date"], keep="first", maintain_order=True)
        .select("asset", "date", "check", "detail")
        .sort("date", "asset")
    )


# --------------------------------------------------------------------------- the calendar
@dataclass(frozen=True)
class Calendar:
    """The bar frequency of a panel and how many bars make a year (for annualising)."""

    frequency: str
    """"daily", "weekly" or "monthly"."""
    periods_per_year: int
    days_per_week: int = 5
    """Trading days a week of a daily calendar: 5 (weekdays) or 7 (every day, e.g. crypto)."""

    def describe(self) -> str:
        """E.g. "daily bars, weekdays (252 a year)"."""
        days = {5: ", weekdays", 7: ", every day"}.get(self.days_per_week, "")
        days = days if self.frequency == "daily" else ""
        return f"{self.frequency} bars{days} ({self.periods_per_year} a year)"


DAILY = Calendar("daily", 252, 5)
"""The default calendar: daily bars on weekdays, 252 a year."""

WEEKEND_SHARE = 0.15
"""A daily calendar with at least this share of its dates on weekends trades every day
(365 bars a year; 2/7 of a seven-day calendar's dates fall on weekends)."""

_FREQUENCIES = ((3, "daily"), (9, "weekly"), (35, "monthly"))
"""Largest median gap in days between consecutive dates of each bar frequency."""


class CalendarError(ValueError):
    """Dates whose spacing is not daily, weekly or monthly bars."""


def infer_calendar(dates: Sequence[date] | pl.Series) -> Calendar:
    """The calendar of a set of dates, from the median gap between consecutive dates.

    Median gap <= 3 days: daily (365 a year when at least :data:`WEEKEND_SHARE` of the
    dates are weekends, else 252); <= 9: weekly (52); 25 .. 35: monthly (12). Other spacings
    raise :class:`CalendarError` naming the gap. Fewer than two dates: :data:`DAILY`.
    """
    series = dates if isinstance(dates, pl.Series) else pl.Series("date", dates, dtype=pl.Date)
    uniq = series.cast(pl.Date).unique().sort()
    if uniq.len() < 2:
        return DAILY
    gap = float(uniq.diff().dt.total_days().drop_nulls().median())  # type: ignore[arg-type]
    if gap <= 3:
        weekend = float((uniq.dt.weekday() >= 6).mean())  # type: ignore[arg-type]
        return Calendar("daily", 365, 7) if weekend >= WEEKEND_SHARE else DAILY
    if gap <= 9:
        return Calendar("weekly", 52, 0)
    if 25 <= gap <= 35:
        return Calendar("monthly", 12, 0)
    raise CalendarError(
        f"the dates are {math.floor(gap)} days apart (median): not daily, weekly or monthly "
        "bars; resample the data to one of these"
    )
