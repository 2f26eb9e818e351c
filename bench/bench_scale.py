"""A large synthetic panel end to end: peak memory per panel row, per stage, and seconds.

    python bench/bench_scale.py --assets 10000 --days 5040   # ~50M rows (most of 24 GiB)
    python bench/bench_scale.py --assets 2000 --days 5000    # 10M rows
    python bench/bench_scale.py --assets 5000 --days 5000    # 25M rows
    python bench/bench_scale.py --assets 1000 --days 2000    # 2M rows, a quick check

Needs a quiet machine. Writes a random-walk panel to a temporary Parquet file, then, in one
process: ``load_panel``, and one fast run (seed12 features, the ``fast`` preset: early
stopping on the validation window, then the refit) through ``run_experiment``. A thread
samples the resident memory (``/proc/self/statm``) every 5 ms; each stage's row gives the
memory when it began and its peak, in bytes per panel row. The *fit stage* is the
validation-window fit and the refit ("selecting" and "training"): its figure is its peak
above the memory held when the run began fitting (panel and feature frame). ``ru_maxrss``
is the whole process's peak.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.config import FAST_PRESET, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.research.pipeline import run_experiment

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class StageMemory:
    """Resident memory at the start of each stage and its peak while the stage lasts."""

    def __init__(self) -> None:
        self.stage = ""
        self.order: list[str] = []
        self.start: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.began: dict[str, float] = {}
        threading.Thread(target=self._sample, daemon=True).start()

    def mark(self, stage: str) -> None:
        if stage != self.stage and stage not in self.start:
            self.start[stage] = rss()
            self.began[stage] = time.perf_counter()
            self.order.append(stage)
        self.stage = stage

    def _sample(self) -> None:
        while True:
            stage, now = self.stage, rss()
            self.peak[stage] = max(self.peak.get(stage, 0), now)
            time.sleep(0.005)


def synthetic_panel(n_assets: int, n_days: int, seed: int = 0, first: int = 0) -> pl.DataFrame:
    """Random-walk OHLCV bars, sorted by asset then date (the canonical order)."""
    rng = np.random.default_rng(seed)
    dates = pl.date_range(dt.date(2000, 1, 3), dt.date(2100, 1, 1), "1d", eager=True)
    dates = dates.filter(dates.dt.weekday() <= 5)[:n_days]
    steps = rng.normal(0, 0.02, (n_assets, n_days)).astype(np.float32)
    close = (100 * np.exp(np.cumsum(steps, axis=1))).ravel()
    del steps
    noise = np.exp(rng.normal(0, 0.005, close.size)).astype(np.float32)
    return pl.DataFrame(
        {
            "asset": np.repeat([f"A{first + i:05d}" for i in range(n_assets)], n_days),
            "date": np.tile(dates.to_numpy(), n_assets),
            "open": close * noise,
            "high": close * np.maximum(noise, 1) * 1.01,
            "low": close * np.minimum(noise, 1) * 0.99,
            "close": close,
            "volume": rng.integers(1_000, 1_000_000, close.size).astype(np.float64),
        }
    ).with_columns(pl.col("open", "high", "low", "close").cast(pl.Float64))


def write_panel(path: Path, n_assets: int, n_days: int) -> None:
    """Write the panel in slices of assets, so the generator never holds all of it at once."""
    step = max(1, 20_000_000 // n_days)
    parts = []
    for k, first in enumerate(range(0, n_assets, step)):
        part = synthetic_panel(min(step, n_assets - first), n_days, seed=k, first=first)
        parts.append(Path(f"{path}.{k}"))
        part.write_parquet(parts[-1])
        del part
    pl.scan_parquet([str(p) for p in parts]).sink_parquet(path)
    for p in parts:
        p.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--days", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "panel.parquet"
        write_panel(path, args.assets, args.days)
        print(f"load average at start {os.getloadavg()}")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        memory = StageMemory()
        memory.mark("load")
        panel = load_panel(str(path))
        rows = panel.height
        dates = panel["date"].unique().sort().to_list()
        cut = int(len(dates) * 0.8)
        config = RunConfig(
            data=str(path),
            model=FAST_PRESET,
            train_start=dates[0],
            train_end=dates[cut],
            test_start=dates[cut + 1],
            test_end=dates[-1],
        )
        memory.mark("checks")
        result = run_experiment(config, panel, on_progress=lambda p: memory.mark(p.stage))
        memory.mark("end")
        time.sleep(0.05)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        report(memory, rows, result.timings, wall, cpu)


def report(memory: StageMemory, rows: int, timings: dict, wall: float, cpu: float) -> None:
    per = 1.0 / rows
    print(f"\nrows {rows:,}   wall {wall:.1f} s   CPU {cpu:.1f} s   timings (s):")
    print("  " + "  ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print("\n| stage | memory at start (B/row) | peak (B/row) | peak above start (B/row) |")
    print("|---|---|---|---|")
    for stage in memory.order[:-1]:
        start, peak = memory.start[stage], memory.peak.get(stage, memory.start[stage])
        print(f"| {stage} | {start * per:.0f} | {peak * per:.0f} | {(peak - start) * per:.0f} |")
    fit = [s for s in ("selecting", "training") if s in memory.start]
    if fit:
        held = memory.start[fit[0]]
        top = max(memory.peak.get(s, held) for s in fit)
        print(f"\nfit stage: peak {(top - held) * per:.0f} B per panel row above the frames held")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"process peak (ru_maxrss) {peak / 2**30:.2f} GiB = {peak * per:.0f} B per panel row")


if __name__ == "__main__":
    main()
