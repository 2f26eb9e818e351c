"""Panel data: load any supported source into the one canonical panel.

The canonical panel is a long polars DataFrame sorted by ``asset`` then ``date`` with columns
``date`` (Date), ``asset`` (Utf8), ``open, high, low, close, volume`` (Float64) and, when
known, the per-asset metadata columns ``sector`` and ``asset_class`` (Utf8).

Sources (:func:`load_panel`), one reader per format in :data:`READERS`:

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

Missing ``open/high/low/volume`` columns are created as null. Numbers that do not parse become
null. Only structural problems (no file, no date/asset/close column, unparsable dates, no
rows ...) raise :class:`PanelError`; data problems are kept in the panel and listed by
:func:`alpha_core.quality.check_quality`.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

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
"""Tried in order on the distinct date strings; the first that parses them all wins
(so all-ambiguous ``01/02/2020`` dates read as US month/day)."""


class PanelError(ValueError):
    """A source that cannot become a panel; the message names the problem and the file."""


# --------------------------------------------------------------------------- loading
def load_panel(source: str | Path, metadata: str | Path | None = None) -> pl.DataFrame:
    """Load ``source`` ("demo", a CSV/Parquet file, a folder or a zip) as the canonical panel.

    ``metadata`` (a CSV or Parquet mapping asset -> sector, asset_class) is left-joined onto
    the panel, replacing any sector/asset_class already there; unknown assets get null.
    """
    if isinstance(source, str) and (source == "demo" or source.startswith("demo:")):
        from alpha_core.demo import DEMO_END, load_demo, parse_demo_source

        end, shift = parse_demo_source(source) or (DEMO_END, None)  # demo:END[:shift=DATE]
        panel = load_demo(end=end, shift=shift).panel
    else:
        panel = _load_path(Path(source))
    if metadata is not None:
        meta = read_metadata(metadata)
        panel = panel.drop(METADATA_COLUMNS, strict=False).join(meta, on="asset", how="left")
    return panel


def read_metadata(path: str | Path) -> pl.DataFrame:
    """Read a metadata file as ``asset, sector, asset_class`` (Utf8, one row per asset)."""
    path = Path(path)
    tables = read_tables(path)
    if len(tables) != 1:
        raise PanelError(f"{path}: metadata must be one table, found {len(tables)}")
    raw = tables[0].frame
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
    frames = [_standardize(t.frame, t.name, t.asset) for t in read_tables(path)]
    panel = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    return panel.sort("asset", "date", maintain_order=True)


# --------------------------------------------------------------------------- readers
@dataclass(frozen=True)
class SourceTable:
    """One table as read from a source, before its columns are matched."""

    name: str
    """Labels errors: the file, or ``archive.zip:member``."""
    frame: pl.DataFrame
    """The table as stored (CSV columns as text)."""
    asset: str | None = None
    """The asset of a one-ticker file (its stem), used when the table has no asset column."""


Reader = Callable[[Path], list[SourceTable]]
"""Reads one source path into its tables; errors are :class:`PanelError` naming the file."""

FOLDER = "/"
"""The :data:`READERS` key of a folder; every other key is a lower-case file suffix."""


def _csv_file(path: Path) -> list[SourceTable]:
    """A long-format CSV file."""
    return [SourceTable(str(path), _read_csv(path, str(path)))]


def _parquet_file(path: Path) -> list[SourceTable]:
    """A long-format Parquet file."""
    try:
        df = pl.read_parquet(path)
    except Exception as exc:
        raise PanelError(f"{path}: cannot parse Parquet file ({exc})") from exc
    return [SourceTable(str(path), _non_empty(df, str(path)))]


def _zip_file(path: Path) -> list[SourceTable]:
    """Every CSV in a zip: per-ticker files (asset = file stem) or one long CSV."""
    return [
        SourceTable(f"{path}:{member}", _read_csv(data, f"{path}:{member}"), stem)
        for member, stem, data in _zip_members(path)
    ]


def _csv_folder(path: Path) -> list[SourceTable]:
    """Every ``.csv`` file of a folder, Yahoo style (asset = file stem)."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
    if not files:
        raise PanelError(f"{path}: folder contains no CSV files")
    return [SourceTable(str(p), _read_csv(p, str(p)), p.stem) for p in files]


READERS: dict[str, Reader] = {
    ".csv": _csv_file,
    ".txt": _csv_file,
    ".parquet": _parquet_file,
    ".pq": _parquet_file,
    ".zip": _zip_file,
    FOLDER: _csv_folder,
}
"""One reader per source format, keyed by file suffix (:data:`FOLDER` for a folder of CSVs).

A new format is one entry here; :func:`upload_types` (the Data page's upload box) follows.
"""


def upload_types() -> list[str]:
    """File extensions (without the dot) a user may upload: every file format of READERS."""
    return [key.removeprefix(".") for key in READERS if key != FOLDER]


def read_tables(path: str | Path) -> list[SourceTable]:
    """The tables of a source path, read by the :data:`READERS` entry of its format."""
    path = Path(path)
    if not path.exists():
        raise PanelError(f"file not found: {path}")
    key = FOLDER if path.is_dir() else path.suffix.lower()
    reader = READERS.get(key)
    if reader is None:
        known = ", ".join(k for k in READERS if k != FOLDER)
        raise PanelError(f"{path}: unsupported extension {key!r} (use {known} or a folder)")
    return reader(path)


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
