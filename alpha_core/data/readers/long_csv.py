"""Reader: a long-format CSV file (one row per asset and date; ``.csv``, ``.txt``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from alpha_core.data.reading import FileReader, SourceTable, read_csv


def read(path: Path) -> list[SourceTable]:
    """The file as one text table."""
    return [SourceTable(str(path), read_csv(path, str(path)))]


def write_sample(panel: pl.DataFrame, folder: Path) -> Path:
    """``panel`` as ``folder/prices.csv``."""
    path = folder / "prices.csv"
    panel.write_csv(path)
    return path


READER = FileReader(
    name="csv",
    suffixes=(".csv", ".txt"),
    read=read,
    write_sample=write_sample,
    description="a long-format CSV file, one row per asset and date (`.csv`, `.txt`)",
)
