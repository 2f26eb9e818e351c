"""A large synthetic panel end to end: peak memory per panel row and seconds per stage.

    PYTHONPATH=$PWD python bench/bench_scale.py --assets 10000 --days 5040   # ~50M rows
    PYTHONPATH=$PWD python bench/bench_scale.py --assets 2000 --days 1500    # ~3M rows

Needs a quiet machine (and for 50M rows most of 24 GiB). Writes the panel to a temporary
Parquet file, loads it with ``load_panel`` and trains one fast fit (seed12 features); the
peak resident memory (``ru_maxrss``) is reported per panel row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.config import FAST_PRESET, RunConfig
from alpha_core.data import load_panel
from alpha_core.runs import RunService


def synthetic_panel(n_assets: int, n_days: int, seed: int = 0) -> pl.DataFrame:
    """Random-walk OHLCV bars, sorted by asset then date (the canonical order)."""
    rng = np.random.default_rng(seed)
    dates = pl.date_range(dt.date(2000, 1, 3), dt.date(2100, 1, 1), "1d", eager=True)
    dates = dates.filter(dates.dt.weekday() <= 5)[:n_days]
    steps = rng.normal(0, 0.02, (n_assets, n_days)).astype(np.float32)
    close = (100 * np.exp(np.cumsum(steps, axis=1))).ravel()
    noise = np.exp(rng.normal(0, 0.005, close.size)).astype(np.float32)
    return pl.DataFrame(
        {
            "asset": np.repeat([f"A{i:05d}" for i in range(n_assets)], n_days),
            "date": np.tile(dates.to_numpy(), n_assets),
            "open": close * noise,
            "high": close * np.maximum(noise, 1) * 1.01,
            "low": close * np.minimum(noise, 1) * 0.99,
            "close": close,
            "volume": rng.integers(1_000, 1_000_000, close.size).astype(np.float64),
        }
    ).with_columns(pl.col("open", "high", "low", "close").cast(pl.Float64))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--days", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "panel.parquet"
        synthetic_panel(args.assets, args.days).write_parquet(path)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        t0 = time.perf_counter()
        panel = load_panel(str(path))
        rows = panel.height
        print(f"rows {rows:,}  load {time.perf_counter() - t0:.1f} s  load avg {os.getloadavg()}")
        dates = panel["date"].unique().sort().to_list()
        config = RunConfig(
            data=str(path),
            model=FAST_PRESET,
            train_start=dates[0],
            train_end=dates[int(len(dates) * 0.8)],
            test_start=dates[int(len(dates) * 0.8) + 1],
            test_end=dates[-1],
        )
        t0 = time.perf_counter()
        result = RunService(Path(tmp) / "runs").train(config, panel)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"fit end to end {time.perf_counter() - t0:.1f} s  timings {result.timings}")
        print(f"peak RSS {peak / 2**30:.2f} GiB  ({(peak - base) / rows:.0f} B per panel row)")


if __name__ == "__main__":
    main()
