"""Per-ticker CSVs in the Yahoo style (``Date,Open,High,Low,Close,Adj Close,Volume``, the
asset being the file stem): writing them, for the folder and zip readers' samples."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def write_tickers(panel: pl.DataFrame, folder: Path) -> list[Path]:
    """One ``<asset>.csv`` per asset of ``panel`` under ``folder`` (Adj Close = Close)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for (asset,), bars in panel.partition_by("asset", as_dict=True, maintain_order=True).items():
        path = folder / f"{asset}.csv"
        bars.select(
            pl.col("date").alias("Date"),
            pl.col("open").alias("Open"),
            pl.col("high").alias("High"),
            pl.col("low").alias("Low"),
            pl.col("close").alias("Close"),
            pl.col("close").alias("Adj Close"),
            pl.col("volume").alias("Volume"),
        ).write_csv(path)
        paths.append(path)
    return paths
