"""The factor risk model: CPU of ``estimate_risk`` over a whole panel and its bias statistics.

For the demo universe and the S&P 500 file (its bad bars dropped, as ``--on-bad-bars drop``):
CPU seconds (``time.process_time``, median of the repeats) and wall seconds of one
``estimate_risk`` pass, the machine's load average, then ``bias_report`` over every forecast
date the model is ready on (random long-short books, top-minus-bottom quintile books of 5-,
20- and 60-day past returns, single names), for the default ``RiskSettings()`` (with its
statistical factors) and, for comparison, ``risk_statistical_factors=0``. Target: at most
5 s CPU on the S&P panel; bias statistics in [0.8, 1.2].

Run: ``python bench/bench_risk.py [--repeats 3]`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.data.panel import load_panel
from alpha_core.data.quality import bad_bars, check_quality
from alpha_core.portfolio.risk import RiskSettings, bias_report, estimate_risk

VARIANT = RiskSettings(risk_statistical_factors=0)
SP500 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sp500_5yr.parquet"


def panels() -> dict[str, pl.DataFrame]:
    """The demo universe and, when present, the S&P 500 file without its bad bars."""
    out = {"demo": load_panel("demo")}
    if SP500.exists():
        raw = load_panel(SP500)
        bad = bad_bars(check_quality(raw)).select("asset", "date")
        out["sp500"] = raw.join(bad, on=["asset", "date"], how="anti")
    else:
        print(f"skipping the S&P 500: {SP500} is absent")
    return out


def timed(panel: pl.DataFrame, repeats: int, settings: RiskSettings) -> tuple[float, float, object]:
    """Median CPU and wall seconds of ``estimate_risk`` and the last model."""
    cpu, wall, model = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        model = estimate_risk(panel, settings)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return float(np.median(cpu)), float(np.median(wall)), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    variants = {"": RiskSettings(), " (no statistical factors)": VARIANT}
    for (name, panel), (label, settings) in itertools.product(panels().items(), variants.items()):
        cpu, wall, model = timed(panel, args.repeats, settings)
        print(
            f"{name}{label}: {panel.height} rows, {len(model.assets)} assets, "
            f"{len(model.dates)} dates, {len(model.factors)} factors; "
            f"estimate_risk CPU {cpu:.2f} s, wall {wall:.2f} s "
            f"(median of {args.repeats}); load {os.getloadavg()}"
        )
        report = bias_report(model)
        print(f"{name}{label} bias: " + json.dumps({k: round(v, 3) for k, v in report.items()}))


if __name__ == "__main__":
    main()
