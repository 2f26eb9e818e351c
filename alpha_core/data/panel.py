"""Panel data: load any supported source into the one canonical panel.

The canonical panel is a long polars DataFrame sorted by ``asset`` then ``date`` with columns
``date`` (Date), ``asset`` (Utf8), ``open, high, low, close, volume`` (Float64) and, when
known, the per-asset metadata columns ``sector`` and ``asset_class`` (Utf8).

Sources (:func:`load_panel`): ``"demo"`` (the synthetic demo universe,
:func:`alpha_core.data.demo.load_demo`), or a file or folder read by the reader plug-in of
its format (:data:`READERS`, suffix -> reader; ``alpha_core.data.readers``: long CSV, long
Parquet, a zip or a folder of per-ticker Yahoo CSVs). Every table read is then matched to the
canonical columns by :func:`alpha_core.data.canonical.standardize` (aliases, adjusted
closes, dates, numbers). Structural problems raise :class:`PanelError` naming the file;
data problems within well-formed numbers are kept and listed by
:func:`alpha_core.data.quality.check_quality`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from alpha_core.data import readers
from alpha_core.data.canonical import (
    FIRST_YEAR,
    METADATA_COLUMNS,
    NULL_TOKENS,
    OPTIONAL_COLUMNS,
    PANEL_COLUMNS,
    PRICE_COLUMNS,
    REQUIRED_COLUMNS,
    match_columns,
    standardize,
    text_column,
)
from alpha_core.data.reading import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_UNZIPPED_MB,
    FOLDER,
    MAX_MEMBERS_ENV,
    MAX_UNZIPPED_MB_ENV,
    FileReader,
    PanelError,
    Reader,
    ReadLimits,
    SourceTable,
    read_limits,
    reason,
    require_regular,
)

__all__ = [
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_MAX_UNZIPPED_MB",
    "FIRST_YEAR",
    "FOLDER",
    "MAX_MEMBERS_ENV",
    "MAX_UNZIPPED_MB_ENV",
    "METADATA_COLUMNS",
    "NULL_TOKENS",
    "OPTIONAL_COLUMNS",
    "PANEL_COLUMNS",
    "PRICE_COLUMNS",
    "READERS",
    "REQUIRED_COLUMNS",
    "FileReader",
    "PanelError",
    "ReadLimits",
    "Reader",
    "SourceTable",
    "assets_by_class",
    "live_assets",
    "load_panel",
    "panel_fingerprint",
    "read_limits",
    "read_metadata",
    "read_tables",
    "refresh_readers",
    "strictly_increasing",
    "upload_types",
]


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
    cols = match_columns(raw.columns)
    if "asset" not in cols:
        raise PanelError(f"{path}: metadata has no asset column (expected asset/ticker/symbol)")
    out = raw.select(
        text_column(cols["asset"]).alias("asset"),
        *(
            text_column(cols[c]).alias(c) if c in cols else pl.lit(None, pl.Utf8).alias(c)
            for c in METADATA_COLUMNS
        ),
    ).unique(maintain_order=True)
    dup = out.filter(pl.col("asset").is_duplicated())["asset"].unique().sort()
    if dup.len():
        raise PanelError(f"{path}: metadata gives conflicting rows for {dup.head(5).to_list()}")
    return out.filter(pl.col("asset").is_not_null())


def _load_path(path: Path) -> pl.DataFrame:
    frames = [standardize(t.frame, t.name, t.asset) for t in read_tables(path)]
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
def _reader_table() -> dict[str, Reader]:
    table: dict[str, Reader] = {}
    for reader in readers.file_readers().values():
        for suffix in reader.suffixes:
            table.setdefault(suffix, reader.read)
    return table


READERS: dict[str, Reader] = {}
"""One reader per source format, keyed by file suffix (:data:`FOLDER` for a folder of CSVs),
filled from the reader plug-ins (``alpha_lab.readers`` entry points) when this module loads.

A new format is one reader module and its entry point; :func:`upload_types` (the Data
page's upload box) follows.
"""


def refresh_readers() -> dict[str, Reader]:
    """Discover the reader plug-ins again and refill :data:`READERS` in place."""
    readers.clear_cache()
    READERS.clear()
    READERS.update(_reader_table())
    return READERS


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
        require_regular(path)
    try:
        return reader(path)
    except OSError as exc:  # permissions, a file vanishing, a full scratch disk ...
        raise PanelError(f"{path}: cannot be read ({exc.strerror or reason(exc)})") from None


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


READERS.update(_reader_table())  # last: a reader plug-in may import this module's names
