"""Panel data: load any supported source into the one canonical panel, and report its quality.

The canonical panel is a long polars DataFrame sorted by ``asset`` then ``date`` with columns
``date`` (Date), ``asset`` (Utf8), ``open, high, low, close, volume`` (Float64) and, when
known, the per-asset metadata columns ``sector`` and ``asset_class`` (Utf8).

Sources (:func:`load_panel`):

- ``"demo"``: the synthetic demo universe (:func:`alpha_core.demo.load_demo`).
- a long-format ``.csv`` or ``.parquet`` file (one row per asset and date);
- a folder of per-ticker CSVs in Yahoo style (``Date,Open,High,Low,Close,Adj Close,Volume``),
  the asset being the file stem;
- a ``.zip`` of per-ticker CSVs, or of one long-format CSV.

Column names match case-insensitively, ignoring spaces and punctuation, with common aliases
(``Date``/``timestamp``, ``ticker``/``symbol``/``Name``, ``Adj Close``/``adj_close``,
``Vol`` ...). When an adjusted close is present, prices are adjusted: ``open, high, low`` are
multiplied by ``adj_close / close`` and ``close`` is replaced by ``adj_close`` (volume is left
as is). Without a raw close, the adjusted close serves as the close and nothing else changes.
A row whose adjusted close is missing gets missing prices (reported, not guessed).

Missing ``open/high/low/volume`` columns are created as null and reported by
:func:`check_quality`. Numbers that do not parse become null (reported as missing). Only
structural problems (no file, no date/asset/close column, unparsable dates, no rows ...)
raise :class:`PanelError`; data problems are kept in the panel and listed by
:func:`check_quality`.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = ("date", "asset", "close")
OPTIONAL_COLUMNS = ("open", "high", "low", "volume")
METADATA_COLUMNS = ("sector", "asset_class")
PANEL_COLUMNS = ("date", "asset", "open", "high", "low", "close", "volume")

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
"""Tried in order on the distinct date strings; the first that parses them all wins
(so all-ambiguous ``01/02/2020`` dates read as US month/day)."""

_ISSUE_SCHEMA = {"check": pl.Utf8, "asset": pl.Utf8, "date": pl.Date, "detail": pl.Utf8}


class PanelError(ValueError):
    """A source that cannot become a panel; the message names the problem and the file."""


# --------------------------------------------------------------------------- loading
def load_panel(source: str | Path, metadata: str | Path | None = None) -> pl.DataFrame:
    """Load ``source`` ("demo", a CSV/Parquet file, a folder or a zip) as the canonical panel.

    ``metadata`` (a CSV or Parquet mapping asset -> sector, asset_class) is left-joined onto
    the panel, replacing any sector/asset_class already there; unknown assets get null.
    """
    if isinstance(source, str) and source == "demo":
        from alpha_core.demo import load_demo

        panel = load_demo().panel
    else:
        panel = _load_path(Path(source))
    if metadata is not None:
        meta = read_metadata(metadata)
        panel = panel.drop(METADATA_COLUMNS, strict=False).join(meta, on="asset", how="left")
    return panel


def read_metadata(path: str | Path) -> pl.DataFrame:
    """Read a metadata file as ``asset, sector, asset_class`` (Utf8, one row per asset)."""
    path = Path(path)
    raw = _read_file(path)
    cols = _match_columns(raw.columns)
    if "asset" not in cols:
        raise PanelError(f"{path}: metadata has no asset column (expected asset/ticker/symbol)")
    out = raw.select(
        _text(cols["asset"]).alias("asset"),
        *(
            _text(cols[c]).alias(c) if c in cols else pl.lit(None, pl.Utf8).alias(c)
            for c in METADATA_COLUMNS
        ),
    ).unique(maintain_order=True)
    dup = out.filter(pl.col("asset").is_duplicated())["asset"].unique().sort()
    if dup.len():
        raise PanelError(f"{path}: metadata gives conflicting rows for {dup.head(5).to_list()}")
    return out.filter(pl.col("asset").is_not_null())


def _load_path(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise PanelError(f"file not found: {path}")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        if not files:
            raise PanelError(f"{path}: folder contains no CSV files")
        frames = [_standardize(_read_file(p), str(p), p.stem) for p in files]
    elif path.suffix.lower() == ".zip":
        frames = [
            _standardize(_read_csv(data, f"{path}:{member}"), f"{path}:{member}", stem)
            for member, stem, data in _zip_members(path)
        ]
    else:
        frames = [_standardize(_read_file(path), str(path), None)]
    panel = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    return panel.sort("asset", "date", maintain_order=True)


def _zip_members(path: Path) -> list[tuple[str, str, bytes]]:
    """(member name, file stem, bytes) for every CSV in the zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [
                m
                for m in zf.namelist()
                if m.lower().endswith(".csv")
                and not m.startswith("__MACOSX/")
                and not Path(m).name.startswith(".")
            ]
            out = [(m, Path(m).stem, zf.read(m)) for m in sorted(members)]
    except zipfile.BadZipFile as exc:
        raise PanelError(f"{path}: not a readable zip file ({exc})") from exc
    if not out:
        raise PanelError(f"{path}: zip contains no CSV files")
    return out


def _read_file(path: Path) -> pl.DataFrame:
    """Read a CSV (all columns as text) or Parquet file; errors name the file."""
    if not path.exists():
        raise PanelError(f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(path, str(path))
    if suffix in (".parquet", ".pq"):
        try:
            df = pl.read_parquet(path)
        except Exception as exc:
            raise PanelError(f"{path}: cannot parse Parquet file ({exc})") from exc
        return _non_empty(df, str(path))
    raise PanelError(f"{path}: unsupported extension {suffix!r} (use .csv, .parquet or .zip)")


def _read_csv(source: Path | bytes, name: str) -> pl.DataFrame:
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        df = pl.read_csv(data, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.NoDataError as exc:
        raise PanelError(f"{name}: file is empty") from exc
    except Exception as exc:
        raise PanelError(f"{name}: cannot parse CSV file ({exc})") from exc
    return _non_empty(df, name)


def _non_empty(df: pl.DataFrame, name: str) -> pl.DataFrame:
    if df.height == 0:
        raise PanelError(f"{name}: file has no rows")
    return df


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _match_columns(columns: list[str]) -> dict[str, str]:
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


def _standardize(raw: pl.DataFrame, name: str, default_asset: str | None) -> pl.DataFrame:
    """Turn one source table into canonical columns (unsorted); ``name`` labels errors."""
    cols = _match_columns(raw.columns)
    if "date" not in cols:
        raise PanelError(f"{name}: no date column (expected date/timestamp), got {raw.columns}")
    if "close" not in cols and "adj_close" not in cols:
        raise PanelError(f"{name}: no close column (expected close/adj close), got {raw.columns}")
    if "asset" not in cols and default_asset is None:
        raise PanelError(f"{name}: no asset column (expected asset/ticker/symbol/name)")
    asset = _text(cols["asset"]) if "asset" in cols else pl.lit(default_asset, pl.Utf8)
    num = {
        c: _number(raw, cols[c])
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
        *(_text(cols[c]).alias(c) for c in METADATA_COLUMNS if c in cols),
    )
    bad = df.filter(pl.col("asset").is_null()).height
    if bad:
        raise PanelError(f"{name}: {bad} rows have no asset in column {cols['asset']!r}")
    if any(c in df.columns for c in METADATA_COLUMNS):
        df = df.with_columns(
            pl.lit(None, pl.Utf8).alias(c) for c in METADATA_COLUMNS if c not in df.columns
        )
    return df


def _text(col: str) -> pl.Expr:
    """A text column, stripped, with empty strings as null."""
    expr = pl.col(col).cast(pl.Utf8).str.strip_chars()
    return pl.when(expr.str.len_chars() > 0).then(expr)


def _number(raw: pl.DataFrame, col: str) -> pl.Expr:
    """A Float64 column; text that is not a number ("", "null", "n/a") becomes null."""
    if raw.schema[col] == pl.Utf8:
        return pl.col(col).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.col(col).cast(pl.Float64, strict=False)


def _parse_dates(s: pl.Series, name: str) -> pl.Series:
    """Parse a date column (Date, Datetime, yyyymmdd integers or text); raise if any fail."""
    if s.dtype == pl.Date:
        out = s
    elif isinstance(s.dtype, pl.Datetime):
        out = s.dt.date()
    elif s.dtype.is_integer() or s.dtype == pl.Utf8:
        out = _parse_date_text(s.cast(pl.Utf8).str.strip_chars())
    else:
        raise PanelError(f"{name}: cannot read dates of type {s.dtype} in column {s.name!r}")
    bad = out.is_null()
    if bad.any():
        examples = s.filter(bad).unique(maintain_order=True).head(3).to_list()
        raise PanelError(
            f"{name}: {int(bad.sum())} rows with missing or unparsable dates in column "
            f"{s.name!r} (e.g. {examples})"
        )
    return out.alias("date")


def _parse_date_text(s: pl.Series) -> pl.Series:
    """Parse text dates with the first format that reads every distinct value (or the best)."""
    uniq = s.drop_nulls().unique()
    best: pl.Series | None = None
    candidates = [uniq.str.strptime(pl.Date, f, strict=False) for f in _DATE_FORMATS]
    candidates.append(uniq.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False))
    for parsed in candidates:
        if best is None or parsed.null_count() < best.null_count():
            best = parsed
        if best.null_count() == 0:
            break
    assert best is not None
    return s.replace_strict(uniq, best, default=None, return_dtype=pl.Date)


# --------------------------------------------------------------------------- quality
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


# --------------------------------------------------------------------------- helpers
def panel_fingerprint(panel: pl.DataFrame) -> str:
    """A short (16 hex) sha256 of the panel's names, types, null masks and values, in order.

    Independent of the polars version (no ``hash_rows``) and of Parquet writer metadata.
    """
    h = hashlib.sha256()
    for name in panel.columns:
        s = panel[name]
        h.update(f"{name}:{s.dtype}\n".encode())
        h.update(s.is_null().to_numpy().tobytes())
        if s.dtype == pl.Utf8 or s.dtype == pl.Categorical:
            text = s.cast(pl.Utf8).fill_null("").str.join("\x1f").item()
            h.update(text.encode())
        elif s.dtype.is_temporal():
            h.update(s.to_physical().fill_null(0).to_numpy().tobytes())
        else:
            h.update(s.cast(pl.Float64).fill_null(0.0).to_numpy().tobytes())
    return h.hexdigest()[:16]


def live_assets(panel: pl.DataFrame) -> pl.DataFrame:
    """``date, n_assets``: number of distinct assets with a close on each date."""
    return (
        panel.filter(pl.col("close").is_not_null() & ~pl.col("close").is_nan())
        .group_by("date")
        .agg(pl.col("asset").n_unique().cast(pl.Int64).alias("n_assets"))
        .sort("date")
    )


def assets_by_class(panel: pl.DataFrame) -> pl.DataFrame:
    """``asset_class, n_assets`` (distinct assets), "unknown" for missing classes, largest first."""
    cls = pl.col("asset_class") if "asset_class" in panel.columns else pl.lit(None, pl.Utf8)
    return (
        panel.select("asset", cls.fill_null("unknown").alias("asset_class"))
        .group_by("asset_class")
        .agg(pl.col("asset").n_unique().cast(pl.Int64).alias("n_assets"))
        .sort(["n_assets", "asset_class"], descending=[True, False])
    )
