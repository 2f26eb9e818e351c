"""Time a percentile change in the app: ``pipeline.rebook`` on stored predictions (no retraining).

Usage: ``python bench/bench_rebook.py [--repeats 30] [--run RUN_ID]``

Uses the newest demo run in the registry when there is one, else trains a small model (its
predictions cover the same test window, which is all rebook depends on). Each repeat uses a
different (long, short) percentile pair, as a slider move would. Prints median and p95 per
stage (the engine's own timings) and for the whole change, including the frames the Books page
draws afterwards. Budget: 200 ms for the engine time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from alpha_core.config import ModelParams, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.evaluation import views
from alpha_core.portfolio.books import books_csv
from alpha_core.research.pipeline import models_meta, rebook, run_experiment
from alpha_core.runs.registry import list_runs, load_run

BUDGET_MS = 200.0


def _preds(run_id: str | None):
    runs = [i for i in list_runs() if i.config.get("data") == "demo"]
    if run_id or runs:
        run = load_run(run_id or runs[0].run_id)
        return run.predictions, run.config, models_meta(run.models), f"run {run.run_id}"
    config = RunConfig(model=ModelParams(n_estimators=20))
    result = run_experiment(config, load_panel("demo"))
    return result.predictions, config, models_meta(result.models), "fresh 20-tree demo model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--run", default=None)
    args = parser.parse_args()
    preds, config, meta, source = _preds(args.run)
    rng = np.random.default_rng(0)
    pairs = [(int(a), int(b)) for a in rng.integers(5, 50, args.repeats + 3)
             for b in rng.integers(5, 50, 1)]  # fmt: skip
    samples: dict[str, list[float]] = {}
    for i, (lp, sp) in enumerate(pairs):
        cfg = config.replace(long_pct=lp / 100, short_pct=sp / 100)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        books, daily, _ = rebook(preds, cfg, meta, timings=timings)
        engine = time.perf_counter() - t0
        t1 = time.perf_counter()
        views.equity_frame(daily)
        views.book_for_date(books, books["date"].max())
        books_csv(books)
        extras = time.perf_counter() - t1
        if i < 3:  # warm-up
            continue
        for key, value in {**timings, "engine total": engine, "page frames": extras}.items():
            samples.setdefault(key, []).append(value * 1000)
    print(f"Percentile change on the demo test window ({preds.height:,} predictions, "
          f"{preds['date'].n_unique()} dates; {source}); {args.repeats} repeats")  # fmt: skip
    print(f"| {'stage':<16} | {'median ms':>9} | {'p95 ms':>8} |")
    print(f"|{'-' * 18}|{'-' * 11}|{'-' * 10}|")
    for key, values in samples.items():
        med = statistics.median(values)
        p95 = float(np.percentile(values, 95))
        print(f"| {key:<16} | {med:9.1f} | {p95:8.1f} |")
    p95 = float(np.percentile(samples["engine total"], 95))
    verdict = "within" if p95 < BUDGET_MS else "OVER"
    print(f"engine p95 {p95:.1f} ms: {verdict} the {BUDGET_MS:.0f} ms budget")


if __name__ == "__main__":
    main()
