"""Reader: a folder of per-ticker CSVs in the Yahoo style (asset = file stem)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from alpha_core.data.readers.yahoo import write_tickers
from alpha_core.data.reading import (
    FOLDER,
    MAX_MEMBERS_ENV,
    FileReader,
    PanelError,
    SourceTable,
    read_csv,
    read_limits,
    require_regular,
)


def read(path: Path) -> list[SourceTable]:
    """Every ``.csv`` file of the folder (regular files only, at most the member limit)."""
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
        require_regular(p)
    return [SourceTable(str(p), read_csv(p, str(p)), p.stem) for p in files]


def write_sample(panel: pl.DataFrame, folder: Path) -> Path:
    """``panel`` as ``folder/prices/<asset>.csv``."""
    write_tickers(panel, folder / "prices")
    return folder / "prices"


READER = FileReader(
    name="folder",
    suffixes=(FOLDER,),
    read=read,
    write_sample=write_sample,
    description="a folder of per-ticker CSVs in the Yahoo style (OHLC adjusted by "
    "`Adj Close / Close`)",
)
