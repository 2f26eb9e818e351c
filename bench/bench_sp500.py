"""The real-data run against the founding document's reference (Qlib Alpha158 + LightGBM).

Usage: ``python bench/bench_sp500.py [--repeats 2]``

Runs ``alpha run --data ../shared/data/sp500_5yr.parquet --on-bad-bars drop --train-start
2013-03-01 --train-end 2016-06-15 --test-start 2016-07-01 --test-end 2018-01-31 --json
--no-save`` in a
fresh interpreter (wall seconds end to end, peak RSS of that process, rank IC and Sharpe from
its JSON), then the same configuration in process for seconds per stage (data load,
features, model, ...). Reference figures are the founding document's, on the same data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

WINDOW = {
    "train_start": date(2013, 3, 1),
    "train_end": date(2016, 6, 15),
    "test_start": date(2016, 7, 1),
    "test_end": date(2018, 1, 31),
}
REFERENCE = {
    "rank_ic_mean": 0.0101,
    "sharpe": 1.44,
    "seconds": 61.0,
    "features_s": 45.0,
    "peak_gib": 1.8,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", default=str(h.SP500))
    args = parser.parse_args()
    if not Path(args.data).exists():
        raise SystemExit(f"real data not found: {args.data}")
    h.header("Real data: S&P 500, 505 stocks, 2013-2018")
    argv = [
        sys.executable,
        "-m",
        "alpha_core.cli.main",
        "run",
        "--data",
        args.data,
        "--on-bad-bars",
        "drop",  # the file's 23 bad bars (missing opens, OHLC out of order); see the README
        "--json",
        "--no-save",
    ]
    for k, v in WINDOW.items():
        argv += [f"--{k.replace('_', '-')}", v.isoformat()]
    walls, cpus, rss, metrics = [], [], 0, {}
    for _ in range(args.repeats):
        r = h.run_child(argv)
        if r["returncode"] != 0:
            raise SystemExit(f"alpha run failed:\n{r['stderr'][-2000:]}")
        walls.append(r["wall_s"])
        cpus.append(r["cpu_s"])
        rss = max(rss, r["maxrss_kib"])
        metrics = json.loads(r["stdout"].strip().splitlines()[-1])
    print(f"`{' '.join(argv[1:])}`: {[round(w, 1) for w in walls]} s", flush=True)

    from alpha_core.config import RunConfig
    from alpha_core.data.panel import load_panel
    from alpha_core.research.pipeline import run_experiment

    t0 = time.perf_counter()
    panel = load_panel(args.data)
    load_s = time.perf_counter() - t0
    result = run_experiment(RunConfig(data=args.data, on_bad_bars="drop", **WINDOW), panel)
    stages = {"data load": load_s, **result.timings}
    rows = [
        [
            "end to end (`alpha run`, whole process), median",
            h.fmt_s(h.median(walls)),
            f"{REFERENCE['seconds']:.0f} s",
        ],
        ["  CPU seconds of that process, median", h.fmt_s(h.median(cpus)), ""],
        *[
            [
                f"  stage: {k}",
                h.fmt_s(v),
                f"{REFERENCE['features_s']:.0f} s" if k == "features" else "",
            ]
            for k, v in stages.items()
        ],
        ["peak RSS", h.fmt_gib(rss), f"{REFERENCE['peak_gib']} GiB"],
        [
            "mean daily rank IC (test)",
            f"{metrics.get('rank_ic_mean'):.4f}",
            f"{REFERENCE['rank_ic_mean']:.4f}",
        ],
        [
            "long-short Sharpe, top/bottom 20%, before costs",
            f"{metrics.get('sharpe'):.2f}",
            f"{REFERENCE['sharpe']:.2f}",
        ],
        [
            "Sharpe 95% interval",
            f"[{metrics.get('sharpe_ci_low'):.2f}, {metrics.get('sharpe_ci_high'):.2f}]",
            "not given",
        ],
        [
            "training rows / test days",
            f"{metrics.get('n_train_rows'):,} / {metrics.get('n_test_days')}",
            "",
        ],
        [
            "bad bars dropped / test bars, dates without a prediction",
            f"{metrics.get('bad_bars_dropped')} / {metrics.get('test_rows_lost')}, "
            f"{metrics.get('test_dates_lost')}",
            "",
        ],
    ]
    print(
        h.table(
            f"Alpha Lab vs Qlib Alpha158 + LightGBM (n = {len(walls)} runs)",
            ("measure", "Alpha Lab", "Qlib reference"),
            rows,
        )
    )
    print(f"\nMachine after: {h.machine()}")


if __name__ == "__main__":
    main()
