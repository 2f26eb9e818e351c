"""Panel data: load any supported source into the one canonical panel.

The canonical panel is a long polars DataFrame sorted by ``asset`` then ``date`` with columns
``date`` (Date), ``asset`` (Utf8), ``open, high, low, close, volume`` (Float64) and, when
known, the per-asset metadata columns ``sector`` and ``asset_class`` (Utf8).

Sources (:func:`load_panel`), one reader per format in :data:`READERS`:

- ``"demo"``: the synthetic demo universe (:func:`alpha_core.data.demo.load_demo`).
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

Missing ``open/high/low/volume`` columns are created as null. Empty cells and the usual
null spellings (:data:`NULL_TOKENS`: "null", "NA", "n/a", "-" ...) become null; "inf" and
"nan" are read as such (and reported). Structural problems raise :class:`PanelError` with
the file and column named: no file, no date/asset/close column, no rows, unparsable dates,
dates with an implausible year (before 1900 or after next year), day/month orders the data
cannot settle (``01/02/2024`` read both ways; see :func:`_parse_date_text`), several bars a
day per asset (intraday data), and number columns holding booleans, lists, other non-numeric
types, thousands separators (``1,234.5``) or text that is not a number. Data problems
within well-formed numbers are kept in the panel and listed by
:func:`alpha_core.data.quality.check_quality`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import closing
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
"""Tried in order on the distinct date strings; the first that parses them all wins,
unless its day/month twin (:data:`_TWINS`) parses them all too (see :func:`_parse_date_text`)."""

_TWINS = {"%m/%d/%Y": "%d/%m/%Y", "%d-%m-%Y": "%m-%d-%Y"}
"""Formats that read the same text with day and month swapped."""

FIRST_YEAR = 1900
"""Dates before this year are refused as implausible (so are dates after next year)."""

NULL_TOKENS = ("", "null", "none", "nan", "na", "n/a", "#n/a", "nil", "-", "--", ".")
"""Text read as a missing number (case-insensitive; "nan" as NaN)."""

_THOUSANDS = r"^[+-]?\d{1,3}([,' ]\d{3})+(\.\d+)?$"


class PanelError(ValueError):
    """A source that cannot become a panel; the message names the problem and the file."""


# --------------------------------------------------------------------------- loading
def load_panel(source: str | Path, metadata: str | Path | None = None) -> pl.DataFrame:
    """Load ``source`` ("demo", a CSV/Parquet file, a folder or a zip) as the canonical panel.

    ``metadata`` (a CSV or Parquet mapping asset -> sector, asset_class) is left-joined onto
    the panel, replacing any sector/asset_class already there; unknown assets get null.
    """
    if isinstance(source, str) and (source == "demo" or source.startswith("demo:")):
        from alpha_core.data.demo import DEMO_END, load_demo, parse_demo_source

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
    return (
        # already ordered (repeats kept for the quality report): a stable sort would change
        # nothing, so skip it and its copy
        panel
        if _in_order(panel, "asset", "date", strict=False)
        else panel.sort("asset", "date", maintain_order=True)
    )


def strictly_increasing(frame: pl.DataFrame, first: str = "asset", second: str = "date") -> bool:
    """True when rows run strictly increasing in (``first``, ``second``): the frame is in that
    order with no key repeated, so sorting it or looking for repeats can be skipped."""
    return _in_order(frame, first, second, strict=True)


def _in_order(frame: pl.DataFrame, first: str, second: str, strict: bool) -> bool:
    """Rows in (``first``, ``second``) order, keys repeating only if not ``strict``. A null
    key fails its comparisons, so a frame of two or more rows holding one is not ordered."""
    a, b = pl.col(first), pl.col(second)
    later = b > b.shift(1) if strict else b >= b.shift(1)
    step = (a > a.shift(1)) | ((a == a.shift(1)) & later)
    return bool(frame.select(step.slice(1).fill_null(False).all()).item())


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
        raise PanelError(f"{path}: cannot parse Parquet file ({_reason(exc)})") from None
    return [SourceTable(str(path), _non_empty(df, str(path)))]


def _zip_file(path: Path) -> list[SourceTable]:
    """Every CSV in a zip: per-ticker files (asset = file stem) or one long CSV.

    Members are read one at a time, each streamed to a temporary file and parsed from it.
    """
    tables = []
    with closing(_zip_members(path)) as members:  # closes the zip and its scratch folder
        for member, stem, file in members:
            name = f"{path}:{member}"
            tables.append(SourceTable(name, _read_csv(file, name), stem))
    return tables


def _csv_folder(path: Path) -> list[SourceTable]:
    """Every ``.csv`` file of a folder, Yahoo style (asset = file stem)."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
    if not files:
        raise PanelError(f"{path}: folder contains no CSV files")
    max_members = read_limits().max_members
    if len(files) > max_members:
        raise PanelError(
            f"{path}: folder holds {len(files):,} CSV files, more than the limit of "
            f"{max_members:,} ({MAX_MEMBERS_ENV})"
        )
    for p in files:
        _require_regular(p)
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
    """The tables of a source path, read by the :data:`READERS` entry of its format.

    Only folders and regular files are read; any failure is one :class:`PanelError` line.
    """
    path = Path(path)
    if not path.exists():
        raise PanelError(f"file not found: {path}")
    key = FOLDER if path.is_dir() else path.suffix.lower()
    reader = READERS.get(key)
    if reader is None:
        known = ", ".join(k for k in READERS if k != FOLDER)
        raise PanelError(f"{path}: unsupported extension {key!r} (use {known} or a folder)")
    if key != FOLDER:
        _require_regular(path)
    try:
        return reader(path)
    except OSError as exc:  # permissions, a file vanishing, a full scratch disk ...
        raise PanelError(f"{path}: cannot be read ({exc.strerror or _reason(exc)})") from None


# --------------------------------------------------------------------------- bounded reading
# Only regular files are opened (never a named pipe, device or socket, which would block or
# never end); a zip's entry count and uncompressed size are checked against read_limits()
# from its central directory before anything is inflated, and each member is streamed to a
# temporary file in chunks rather than inflated into memory. Every reading failure is one
# PanelError line naming the file.


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one source may make the loader read (see :func:`read_limits`)."""

    max_unzipped_bytes: int
    """Total uncompressed size of the CSV members of a zip."""
    max_members: int
    """Entries of a zip's central directory; CSV files of a folder."""


MAX_UNZIPPED_MB_ENV = "ALPHA_LAB_MAX_UNZIPPED_MB"
MAX_MEMBERS_ENV = "ALPHA_LAB_MAX_ZIP_MEMBERS"
DEFAULT_MAX_UNZIPPED_MB = 1024
DEFAULT_MAX_MEMBERS = 10_000
_CHUNK = 1 << 20


def read_limits() -> ReadLimits:
    """1024 MB unzipped and 10,000 members, unless ``ALPHA_LAB_MAX_UNZIPPED_MB`` or
    ``ALPHA_LAB_MAX_ZIP_MEMBERS`` (positive integers) say otherwise."""

    def env_int(name: str, default: int) -> int:
        text = os.environ.get(name, "").strip()
        return int(text) if text.isdigit() and int(text) > 0 else default

    return ReadLimits(
        env_int(MAX_UNZIPPED_MB_ENV, DEFAULT_MAX_UNZIPPED_MB) * 2**20,
        env_int(MAX_MEMBERS_ENV, DEFAULT_MAX_MEMBERS),
    )


def _require_regular(path: Path) -> None:
    """Refuse anything but a regular file (symlinks followed): a pipe or device never ends."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise PanelError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise PanelError(f"{path}: not a regular file (pipes, devices and sockets are not read)")


def _is_csv_member(info: zipfile.ZipInfo) -> bool:
    name = info.filename
    mode = info.external_attr >> 16
    return (
        name.lower().endswith(".csv")
        and not info.is_dir()
        and not name.startswith("__MACOSX/")
        and not Path(name).name.startswith(".")
        and stat.S_IFMT(mode) in (0, stat.S_IFREG)  # no symlink or device entries
    )


def _too_many(path: Path, entries: int, limits: ReadLimits) -> PanelError:
    return PanelError(
        f"{path}: zip holds {entries:,} entries, more than the limit of "
        f"{limits.max_members:,} ({MAX_MEMBERS_ENV})"
    )


def _check_directory_size(path: Path, limits: ReadLimits) -> None:
    """Refuse a zip whose end record announces too many entries, before parsing them all."""
    try:
        with path.open("rb") as fp:
            end = zipfile._EndRecData(fp)  # type: ignore[attr-defined]
        entries = end[zipfile._ECD_ENTRIES_TOTAL] if end else None  # type: ignore[attr-defined]
    except (AttributeError, IndexError, OSError):  # ZipFile's own parsing decides
        return
    if end is None:
        raise PanelError(f"{path}: not a readable zip file (no end of central directory)")
    if entries is not None and entries > limits.max_members:
        raise _too_many(path, entries, limits)


def _zip_members(path: Path) -> Iterator[tuple[str, str, Path]]:
    """(member name, file stem, temporary file) for every CSV in the zip, one at a time.

    The limits are checked on the central directory first; each member is then inflated in
    chunks into a temporary file (overwritten by the next member) and never beyond the size
    its directory entry declares.
    """
    limits = read_limits()
    _check_directory_size(path, limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise PanelError(f"{path}: not a readable zip file ({_reason(exc)})") from None
    with zf, tempfile.TemporaryDirectory(prefix="alpha-lab-zip-") as scratch:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise _too_many(path, len(infos), limits)
        members = sorted((i for i in infos if _is_csv_member(i)), key=lambda i: i.filename)
        if not members:
            raise PanelError(f"{path}: zip contains no CSV files")
        total = sum(i.file_size for i in members)
        if total > limits.max_unzipped_bytes:
            raise PanelError(
                f"{path}: zip inflates to {total / 2**20:,.0f} MB, more than the limit of "
                f"{limits.max_unzipped_bytes / 2**20:,.0f} MB ({MAX_UNZIPPED_MB_ENV})"
            )
        target = Path(scratch) / "member.csv"
        for info in members:
            _inflate(zf, info, target, f"{path}:{info.filename}")
            yield info.filename, Path(info.filename).stem, target


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Stream one member into ``target`` in chunks, at most its declared size."""
    written = 0
    try:
        with zf.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:  # zipfile stops there itself; belt and braces
                    raise PanelError(f"{name}: member is larger than its directory entry says")
                dst.write(chunk)
    except PanelError:
        raise
    except Exception as exc:  # bad CRC, encryption, unsupported compression, disk full ...
        raise PanelError(f"{name}: cannot read this zip member ({_reason(exc)})") from None


def _read_csv(source: Path, name: str) -> pl.DataFrame:
    try:
        df = pl.read_csv(source, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.NoDataError:
        raise PanelError(f"{name}: file is empty") from None
    except Exception as exc:
        raise PanelError(f"{name}: cannot parse CSV file ({_reason(exc)})") from None
    return _non_empty(df, name)


def _reason(exc: BaseException) -> str:
    """A library exception as one short line (its first line, at most 200 characters)."""
    lines = str(exc).strip().splitlines()
    line = lines[0].strip() if lines else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


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
        *(_text(cols[c]).alias(c) for c in METADATA_COLUMNS if c in cols),
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


def _text(col: str) -> pl.Expr:
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
