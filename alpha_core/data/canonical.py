"""The canonical panel's columns, and turning one source table into them.

Column names match case-insensitively, ignoring spaces and punctuation, with common aliases
(``Date``/``timestamp``, ``ticker``/``symbol``/``Name``, ``Adj Close``/``adj_close``,
``Vol`` ...). When an adjusted close is present, prices are adjusted: ``open, high, low`` are
multiplied by ``adj_close / close`` and ``close`` is replaced by ``adj_close`` (volume is left
as is). Without a raw close, the adjusted close serves as the close and nothing else changes.
A row whose adjusted close is missing gets missing prices (reported, not guessed).

Missing ``open/high/low/volume`` columns are created as null. Empty cells and the usual
null spellings (:data:`NULL_TOKENS`: "null", "NA", "n/a", "-" ...) become null; "inf" and
"nan" are read as such (and reported). Structural problems raise :class:`PanelError` with
the file and column named: no date/asset/close column, unparsable dates, dates with an
implausible year (before 1900 or after next year), day/month orders the data cannot settle
(``01/02/2024`` read both ways; see :func:`_parse_date_text`), several bars a day per asset
(intraday data), and number columns holding booleans, lists, other non-numeric types,
thousands separators (``1,234.5``) or text that is not a number.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from alpha_core.data.reading import PanelError

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = ("date", "asset", "close")
OPTIONAL_COLUMNS = ("open", "high", "low", "volume")
METADATA_COLUMNS = ("sector", "asset_class")
PANEL_COLUMNS = ("date", "asset", "open", "high", "low", "close", "volume")

_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "datetime", "timestamp", "time", "day", "tradedate", "tradingdate"),
    "asset": ("asset", "ticker", "symbol", "tickersymbol", "name", "instrument", "security"),
    "open": ("open", "openprice", "o"),
    "high": ("high", "highprice", "h"),
    "low": ("low", "lowprice", "l"),
    "close": ("close", "closeprice", "closingprice", "last", "c"),
    "adj_close": ("adjclose", "adjustedclose", "adjcloseprice", "adjclosingprice"),
    "volume": ("volume", "vol", "tradevolume", "v"),
    "sector": ("sector", "gicssector", "gics"),
    "asset_class": ("assetclass", "class", "type", "assettype"),
}

_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%b %d %Y",
)
"""Tried in order on the distinct date strings; the first that parses them all wins,
unless its day/month twin (:data:`_TWINS`) parses them all too (see :func:`_parse_date_text`)."""

_TWINS = {"%m/%d/%Y": "%d/%m/%Y", "%d-%m-%Y": "%m-%d-%Y"}
"""Formats that read the same text with day and month swapped."""

FIRST_YEAR = 1900
"""Dates before this year are refused as implausible (so are dates after next year)."""

NULL_TOKENS = ("", "null", "none", "nan", "na", "n/a", "#n/a", "nil", "-", "--", ".")
"""Text read as a missing number (case-insensitive; "nan" as NaN)."""

_THOUSANDS = r"^[+-]?\d{1,3}([,' ]\d{3})+(\.\d+)?$"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def match_columns(columns: list[str]) -> dict[str, str]:
    """Map canonical name -> source column, by alias priority, each source column used once."""
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    found: dict[str, str] = {}
    for canon, aliases in _ALIASES.items():
        for alias in aliases:
            col = by_norm.get(alias)
            if col is not None and col not in found.values():
                found[canon] = col
                break
    return found


def standardize(raw: pl.DataFrame, name: str, default_asset: str | None) -> pl.DataFrame:
    """Turn one source table into canonical columns (unsorted); ``name`` labels errors."""
    cols = match_columns(raw.columns)
    if "date" not in cols:
        raise PanelError(f"{name}: no date column (expected date/timestamp), got {raw.columns}")
    if "close" not in cols and "adj_close" not in cols:
        raise PanelError(f"{name}: no close column (expected close/adj close), got {raw.columns}")
    if "asset" not in cols and default_asset is None:
        raise PanelError(f"{name}: no asset column (expected asset/ticker/symbol/name)")
    asset = text_column(cols["asset"]) if "asset" in cols else pl.lit(default_asset, pl.Utf8)
    num = {
        c: _number(raw, cols[c], name)
        for c in ("open", "high", "low", "close", "adj_close", "volume")
        if c in cols
    }
    if "adj_close" in num and "close" in num:
        factor = pl.when(num["close"] > 0).then(num["adj_close"] / num["close"])
        num.update({c: num[c] * factor for c in ("open", "high", "low") if c in num})
    if "adj_close" in num:
        num["close"] = num["adj_close"]
    null = pl.lit(None, pl.Float64)
    df = raw.select(
        pl.lit(_parse_dates(raw[cols["date"]], name)).alias("date"),
        asset.alias("asset"),
        *(num.get(c, null).alias(c) for c in ("open", "high", "low", "close", "volume")),
        *(text_column(cols[c]).alias(c) for c in METADATA_COLUMNS if c in cols),
    )
    bad = df.filter(pl.col("asset").is_null()).height
    if bad:
        raise PanelError(f"{name}: {bad} rows have no asset in column {cols['asset']!r}")
    _refuse_intraday(df, raw[cols["date"]], name)
    if any(c in df.columns for c in METADATA_COLUMNS):
        df = df.with_columns(
            pl.lit(None, pl.Utf8).alias(c) for c in METADATA_COLUMNS if c not in df.columns
        )
    return df


def text_column(col: str) -> pl.Expr:
    """A text column, stripped, with empty strings as null."""
    expr = pl.col(col).cast(pl.Utf8).str.strip_chars()
    return pl.when(expr.str.len_chars() > 0).then(expr)


def _number(raw: pl.DataFrame, col: str, name: str) -> pl.Expr:
    """A Float64 column; raise :class:`PanelError` for a column that is not numbers.

    Null spellings (:data:`NULL_TOKENS`) become null. Booleans, lists, dates and other
    non-numeric types, numbers with thousands separators and other text are refused with
    the column and an example named: read silently, they would become prices.
    """
    dtype = raw.schema[col]
    if dtype == pl.Utf8:
        _check_number_text(raw[col], name)
        return pl.col(col).str.strip_chars().cast(pl.Float64, strict=False)
    if dtype.is_numeric():
        return pl.col(col).cast(pl.Float64)
    if dtype == pl.Null:
        return pl.lit(None, pl.Float64)
    kind = "true/false" if dtype == pl.Boolean else str(dtype)
    example = raw[col].drop_nulls().head(1).to_list()
    raise PanelError(
        f"{name}: column {col!r} holds {kind} values, not numbers"
        + (f" (e.g. {example[0]!r})" if example else "")
    )


def _check_number_text(s: pl.Series, name: str) -> None:
    """Raise unless every value of a text column is a number or a null spelling."""
    text = s.str.strip_chars()
    uniq = text.drop_nulls().unique()
    bad = uniq.filter(
        uniq.cast(pl.Float64, strict=False).is_null() & ~uniq.str.to_lowercase().is_in(NULL_TOKENS)
    )
    if bad.len() == 0:
        return
    thousands = bad.filter(bad.str.contains(_THOUSANDS))
    shown = (thousands if thousands.len() else bad).sort().head(3).to_list()
    count = int(text.is_in((thousands if thousands.len() else bad).to_list()).sum())
    if thousands.len():
        what, hint = "number(s) with thousands separators", "; remove the separators"
    else:
        what, hint = "value(s) that are not numbers", ""
    raise PanelError(f"{name}: column {s.name!r} has {count} {what} (e.g. {shown}){hint}")


def _parse_dates(s: pl.Series, name: str) -> pl.Series:
    """Parse a date column (Date, Datetime, yyyymmdd integers or text); raise if any fail,
    or if a year is implausible (before :data:`FIRST_YEAR` or after next year)."""
    if s.dtype == pl.Date:
        out = s
    elif isinstance(s.dtype, pl.Datetime):
        out = s.dt.date()
    elif s.dtype.is_integer() or s.dtype == pl.Utf8:
        out = _parse_date_text(s.cast(pl.Utf8).str.strip_chars(), name, s.name)
    else:
        raise PanelError(f"{name}: cannot read dates of type {s.dtype} in column {s.name!r}")
    bad = out.is_null()
    if bad.any():
        examples = s.filter(bad).unique(maintain_order=True).head(3).to_list()
        raise PanelError(
            f"{name}: {int(bad.sum())} rows with missing or unparsable dates in column "
            f"{s.name!r} (e.g. {examples})"
        )
    last_year = dt.date.today().year + 1
    implausible = (out.dt.year() < FIRST_YEAR) | (out.dt.year() > last_year)
    if implausible.any():
        examples = s.filter(implausible).unique(maintain_order=True).head(3).to_list()
        raise PanelError(
            f"{name}: {int(implausible.sum())} date(s) in column {s.name!r} with an "
            f"implausible year (e.g. {examples}; expected {FIRST_YEAR} .. {last_year})"
        )
    return out.alias("date")


def _parse_date_text(s: pl.Series, name: str = "", column: str = "") -> pl.Series:
    """Parse text dates with the first format that reads every distinct value (or the best).

    When the winning format's day/month twin reads every value too (all days <= 12), the
    reading whose dates are a daily calendar (median gap <= 4 days) wins if the other's is
    not; otherwise the order cannot be told and :class:`PanelError` says so.
    """
    uniq = s.drop_nulls().unique()
    best: pl.Series | None = None
    best_format = ""
    formats = [*_DATE_FORMATS, ""]
    for fmt in formats:
        parsed = _strptime(uniq, fmt)
        if best is None or parsed.null_count() < best.null_count():
            best, best_format = parsed, fmt
        if best.null_count() == 0:
            break
    assert best is not None
    twin = _TWINS.get(best_format)
    if twin and best.null_count() == 0 and uniq.len():
        other = _strptime(uniq, twin)
        if other.null_count() == 0 and not other.equals(best):
            best = _settle_day_month(best, other, uniq, name, column)
    return s.replace_strict(uniq, best, default=None, return_dtype=pl.Date)


def _strptime(uniq: pl.Series, fmt: str) -> pl.Series:
    if not fmt:  # ISO date with a time or zone after it
        return uniq.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    return uniq.str.strptime(pl.Date, fmt, strict=False)


def _settle_day_month(
    first: pl.Series, second: pl.Series, uniq: pl.Series, name: str, column: str
) -> pl.Series:
    """The one reading of ambiguous dates that gives daily bars, or a PanelError."""
    daily = [_median_gap(r) <= 4 for r in (first, second)]
    if daily[0] != daily[1]:
        return first if daily[0] else second
    examples = uniq.sort().head(2).to_list()
    raise PanelError(
        f"{name}: the dates in column {column!r} (e.g. {examples}) read both as month/day "
        "and as day/month, and neither order is clearly daily; write them as YYYY-MM-DD"
    )


def _median_gap(dates: pl.Series) -> float:
    gaps = dates.unique().sort().diff().dt.total_days().drop_nulls()
    return float(gaps.median()) if gaps.len() else float("inf")  # type: ignore[arg-type]


def _refuse_intraday(df: pl.DataFrame, stamps: pl.Series, name: str) -> None:
    """Raise when an asset has several bars on one date with different timestamps."""
    # Sorted 64-bit hashes of the keys first: 8 bytes a row, where a hash table of the keys
    # took ~200 on a large panel; the exact test below runs only when two hashes meet.
    hashed = pl.struct("asset", "date").hash().sort()
    if not df.select((hashed == hashed.shift()).any()).item():
        return
    if not df.select(pl.struct("asset", "date").is_duplicated().any()).item():
        return
    keyed = df.select("asset", "date").with_columns(stamps.cast(pl.Utf8).alias("_stamp"))
    per_day = keyed.group_by("asset", "date").agg(pl.col("_stamp").n_unique().alias("n"))
    intraday = per_day.filter(pl.col("n") > 1).sort("asset", "date")
    if intraday.height:
        asset, day, n = intraday.row(0)
        raise PanelError(
            f"{name}: {intraday.height} (asset, date) pairs hold several bars with different "
            f"times (e.g. {asset} {day}: {n} bars): intraday data; Alpha Lab needs one bar per "
            "asset and day (resample to daily bars)"
        )
