"""Data quality: report (never fix) problems in a canonical panel.

:func:`check_quality` runs every check in :data:`CHECKS` and returns a :class:`QualityReport`
(one row per finding: check, asset, date, detail). Loading a panel lives in
:mod:`alpha_core.data`; a panel with problems still loads, and the report lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from alpha_core.data import OPTIONAL_COLUMNS, PRICE_COLUMNS

CHECKS = (
    "missing_column",
    "duplicate",
    "missing_price",
    "non_positive_price",
    "ohlc_out_of_order",
    "zero_volume",
    "missing_volume",
    "extreme_move",
)
"""Every check :func:`check_quality` runs, in report order."""

_LABELS = {
    "missing_column": ("optional column with no values", "optional columns with no values"),
    "duplicate": ("duplicated (asset, date) key", "duplicated (asset, date) keys"),
    "missing_price": ("row with missing prices", "rows with missing prices"),
    "non_positive_price": ("row with non-positive prices", "rows with non-positive prices"),
    "ohlc_out_of_order": ("row with OHLC out of order", "rows with OHLC out of order"),
    "zero_volume": ("row with zero volume", "rows with zero volume"),
    "missing_volume": ("row with missing volume", "rows with missing volume"),
    "extreme_move": ("extreme one-day move", "extreme one-day moves"),
}

_ISSUE_SCHEMA = {"check": pl.Utf8, "asset": pl.Utf8, "date": pl.Date, "detail": pl.Utf8}


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
            line = f"{n} {_LABELS[check][n != 1]}"
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
    reported once as ``missing_column`` instead. NaN counts as missing. Extreme moves compare
    each close with the asset's previous non-missing close (panel sorted by asset, date).
    """
    if extreme_move <= 0:
        raise ValueError(f"extreme_move must be > 0, got {extreme_move}")
    df = _quality_frame(panel)
    empty = [c for c in OPTIONAL_COLUMNS if df[c].null_count() == df.height and df.height > 0]
    present = [c for c in PRICE_COLUMNS if c not in empty]
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
            "non_positive_price",
            pl.any_horizontal(pl.col(c) <= 0 for c in present),
            _listing(present, lambda c: pl.col(c) <= 0, " <= 0"),
        ),
        _rows(df, "ohlc_out_of_order", _ohlc_disorder(), _ohlc_detail()),
        _rows(df, "zero_volume", pl.col("volume") == 0, pl.lit("volume 0")),
        _rows(
            df,
            "missing_volume",
            pl.col("volume").is_null() & ("volume" not in empty),
            pl.lit("volume missing"),
        ),
        _extreme_moves(df, extreme_move),
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


def _ohlc_disorder() -> pl.Expr:
    """high < max(open, close), low > min(open, close) or high < low; open may be missing."""
    high, low, close = pl.col("high"), pl.col("low"), pl.col("close")
    top = pl.max_horizontal("open", "close")
    bottom = pl.min_horizontal("open", "close")
    known = high.is_not_null() & low.is_not_null() & close.is_not_null()
    return known & ((high < top) | (low > bottom) | (high < low))


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
