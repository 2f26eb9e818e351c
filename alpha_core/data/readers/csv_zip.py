"""Reader: a zip of per-ticker CSVs in the Yahoo style (asset = file stem), or of one long
CSV; checked against the read limits before anything is inflated."""

from __future__ import annotations

import zipfile
from contextlib import closing
from pathlib import Path

import polars as pl

from alpha_core.data.readers.yahoo import write_tickers
from alpha_core.data.reading import FileReader, SourceTable, read_csv, zip_csv_members


def read(path: Path) -> list[SourceTable]:
    """Every CSV member, one at a time, each streamed to a temporary file and parsed."""
    tables = []
    with closing(zip_csv_members(path)) as members:  # closes the zip and its scratch folder
        for member, stem, file in members:
            name = f"{path}:{member}"
            tables.append(SourceTable(name, read_csv(file, name), stem))
    return tables


def write_sample(panel: pl.DataFrame, folder: Path) -> Path:
    """``panel`` as ``folder/prices.zip`` of ``<asset>.csv`` members."""
    path = folder / "prices.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in write_tickers(panel, folder / "zip-members"):
            zf.write(file, file.name)
    return path


READER = FileReader(
    name="zip",
    suffixes=(".zip",),
    read=read,
    write_sample=write_sample,
    description="a zip of per-ticker CSVs in the Yahoo style, or of one long-format CSV (`.zip`)",
)
