"""Write the golden Alpha158 fixture: Qlib's own Alpha158 on 8 S&P 500 assets.

Needs ../shared/data/sp500_5yr.parquet and a SEPARATE virtualenv with Qlib (never install
pyqlib into the project's environment):

    python -m venv /tmp/qlibenv && /tmp/qlibenv/bin/pip install pyqlib==0.9.7
    python bench/make_alpha158_fixture.py --qlib-python /tmp/qlibenv/bin/python

Picks 8 assets with a bar on every date of the file (no gaps, no missing price, no zero
volume), evenly spaced in alphabetical order, keeps their bars from ``WARMUP_BARS`` bars
before ``START`` to ``END``, rounds them to float32 (Qlib's storage type) and adds a stand-in
``vwap`` = (high + low + close) / 3, because the file has none: it exercises VWAP0's formula
only. Qlib reads exactly these bars (dumped in its binary layout, factor 1) and computes
Alpha158 with ``Alpha158DL``; the features from ``START`` on, where every window is full, are
the fixture. Writes tests/fixtures/alpha158_qlib_bars.parquet (the input bars) and
tests/fixtures/alpha158_qlib.parquet (date, asset and the 158 features, float32).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _qlib_data import dump_qlib, run_qlib_alpha158  # noqa: E402

from alpha_core.base.storage import write_atomic  # noqa: E402
from alpha_core.features.alpha158 import ALPHA158_NAMES  # noqa: E402

SP500 = ROOT.parent / "shared" / "data" / "sp500_5yr.parquet"
FIXTURES = ROOT / "tests" / "fixtures"
N_ASSETS = 8
START, END = dt.date(2016, 7, 1), dt.date(2016, 12, 30)
WARMUP_BARS = 70
"""Bars before START given to both sides: more than the longest warmup (60 bars + 1)."""


def gap_free_sample(panel: pl.DataFrame) -> list[str]:
    """``N_ASSETS`` assets with every date, no missing price and no zero volume."""
    n_dates = panel["date"].n_unique()
    clean = (
        panel.group_by("asset")
        .agg(
            pl.len().alias("bars"),
            pl.any_horizontal(pl.col("open", "high", "low", "close", "volume").is_null())
            .any()
            .alias("missing"),
            (pl.col("volume") <= 0).any().alias("zero_volume"),
        )
        .filter((pl.col("bars") == n_dates) & ~pl.col("missing") & ~pl.col("zero_volume"))
        .sort("asset")["asset"]
        .to_list()
    )
    return [clean[i * len(clean) // N_ASSETS] for i in range(N_ASSETS)]


def fixture_bars(panel: pl.DataFrame, assets: list[str]) -> pl.DataFrame:
    dates = panel["date"].unique().sort()
    first = dates.filter(dates < START)[-WARMUP_BARS]
    bars = panel.filter(
        pl.col("asset").is_in(assets) & pl.col("date").is_between(first, END)
    ).select(
        "date",
        "asset",
        *(pl.col(c).cast(pl.Float32) for c in ("open", "high", "low", "close", "volume")),
    )
    vwap = (pl.col("high").cast(pl.Float64) + pl.col("low") + pl.col("close")) / 3
    return bars.with_columns(vwap.cast(pl.Float32).alias("vwap")).sort("asset", "date")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qlib-python", default="/tmp/qlibenv/bin/python")
    args = ap.parse_args()
    panel = pl.read_parquet(SP500)
    bars = fixture_bars(panel, gap_free_sample(panel))
    with tempfile.TemporaryDirectory(prefix="alpha158-qlib-") as tmp:
        root = dump_qlib(bars, Path(tmp) / "qlib_data")
        out = Path(tmp) / "alpha158.parquet"
        run_qlib_alpha158(args.qlib_python, root, str(bars["date"].min()), str(END), "loader", out)
        qlib = pl.read_parquet(out)
    features = (
        qlib.with_columns(pl.col("date").cast(pl.Date), pl.col("asset").cast(pl.String))
        .filter(pl.col("date") >= START)
        .select("date", "asset", *(pl.col(n).cast(pl.Float32) for n in ALPHA158_NAMES))
        .sort("asset", "date")
    )
    for name, frame in (("alpha158_qlib_bars", bars), ("alpha158_qlib", features)):
        path = FIXTURES / f"{name}.parquet"
        write_atomic(path, lambda p, f=frame: f.write_parquet(p, compression_level=22))
        print(f"{path.relative_to(ROOT)}: {frame.shape}, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
