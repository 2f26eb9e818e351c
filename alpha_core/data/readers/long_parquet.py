"""Reader: a long-format Parquet file (one row per asset and date; ``.parquet``, ``.pq``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from alpha_core.data.reading import FileReader, PanelError, SourceTable, non_empty, reason


def read(path: Path) -> list[SourceTable]:
    """The file as one typed table."""
    try:
        df = pl.read_parquet(path)
    except Exception as exc:
        raise PanelError(f"{path}: cannot parse Parquet file ({reason(exc)})") from None
    return [SourceTable(str(path), non_empty(df, str(path)))]


def write_sample(panel: pl.DataFrame, folder: Path) -> Path:
    """``panel`` as ``folder/prices.parquet``."""
    path = folder / "prices.parquet"
    panel.write_parquet(path)
    return path


READER = FileReader(
    name="parquet",
    suffixes=(".parquet", ".pq"),
    read=read,
    write_sample=write_sample,
    description="a long-format Parquet file, one row per asset and date (`.parquet`, `.pq`)",
)
