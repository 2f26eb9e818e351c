"""The whole research loop on a simulated 5,000-asset x 3,000-day panel (~15M rows).

Usage: ``python bench/bench_loop.py [--assets 5000] [--days 3000] [--train-days 1000]``

In one fresh interpreter, calling the engine's functions: generate the panel (numpy,
deterministic) -> ``build_features`` -> ``training_rows`` on the first ``--train-days``
dates -> ``fit_model`` -> ``predict_window`` on every later date -> ``pipeline.rebook`` (rank,
books, daily P&L, metrics). Reports seconds per stage and the process's peak resident memory
(``ru_maxrss``, measured by the child itself; budget 8 GiB).

Model: REDUCED: FAST_PRESET's tree shape and 63 bins, a fixed 100 trees, no validation tail
(the seed's 500 trees at 255 bins on ~5M rows would take several minutes on 2 cores; the
memory peak is set by the data, not the number of trees).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

BUDGET_GIB = 8.0


def case_loop(n_assets: int, n_days: int, train_days: int) -> dict:
    from alpha_core.config import FAST_PRESET, RunConfig
    from alpha_core.features.library import FEATURE_NAMES, build_features
    from alpha_core.models.base import fit_model, training_rows
    from alpha_core.research.pipeline import rebook
    from alpha_core.signals.predictions import predict_window

    stages: dict[str, float] = {}
    rss: dict[str, float] = {}

    def mark(name: str, t0: float) -> None:
        stages[name] = time.perf_counter() - t0
        rss[name] = h.self_maxrss_kib()

    t0 = time.perf_counter()
    panel = h.synthetic_panel(n_assets, n_days)
    mark("generate panel", t0)
    t0 = time.perf_counter()
    feats = build_features(panel)
    mark("build_features", t0)
    del panel
    gc.collect()
    dates = feats.get_column("date").unique().sort()
    train_start, train_end = dates[0], dates[train_days - 1]
    test_start, test_end = dates[train_days], dates[-1]
    t0 = time.perf_counter()
    train = training_rows(feats, train_start, train_end, test_start, FEATURE_NAMES)
    # a fixed 100 trees: on a random walk early stopping would stop after a few trees and
    # understate the cost of training
    params = dataclasses.replace(
        FAST_PRESET, n_estimators=100, early_stopping_rounds=0, valid_fraction=0.0
    )
    model = fit_model(train, FEATURE_NAMES, params, seed=42)
    n_train = train.height
    del train
    gc.collect()
    mark("training_rows + fit_model", t0)
    t0 = time.perf_counter()
    preds = predict_window(model, feats, test_start, test_end)
    mark("predict_window", t0)
    config = RunConfig(
        train_start=train_start, train_end=train_end, test_start=test_start, test_end=test_end
    )
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    _, daily, metrics = rebook(preds, config, model.meta, timings=timings)
    mark("rebook (books, P&L, metrics)", t0)
    return {
        "stages": stages,
        "rss": rss,
        "engine_timings": timings,
        "rows": feats.height,
        "n_train": n_train,
        "n_preds": preds.height,
        "trees": model.booster.num_trees(),
        "rank_ic_mean": metrics.get("rank_ic_mean"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=5000)
    parser.add_argument("--days", type=int, default=3000)
    parser.add_argument("--train-days", type=int, default=1000)
    parser.add_argument("--case", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        h.emit(case_loop(*map(int, args.case)))
        return
    h.header(f"Whole loop on a simulated {args.assets:,} x {args.days:,} panel")
    r = h.run_case(Path(__file__), str(args.assets), str(args.days), str(args.train_days))
    rows = [[k, h.fmt_s(v), h.fmt_gib(r["rss"][k])] for k, v in r["stages"].items()]
    total = sum(r["stages"].values())
    peak = r["maxrss_kib"] / 2**20
    verdict = "met" if peak < BUDGET_GIB else "NOT met"
    rows.append(
        ["total", h.fmt_s(total), f"{h.fmt_gib(r['maxrss_kib'])} (budget 8 GiB: {verdict})"]
    )
    print(
        h.table(
            f"{r['rows']:,} feature rows; {r['n_train']:,} training rows; {r['n_preds']:,} "
            f"predictions; {r['trees']} trees (reduced model)",
            ("stage", "seconds", "peak RSS so far"),
            rows,
        )
    )
    print(f"\nrebook stages: {r['engine_timings']}; rank IC {r['rank_ic_mean']} (random walk: ~0)")
    print(f"wall of the whole child process: {r['wall_s']:.1f} s")
    print(f"\nMachine after: {h.machine()}")


if __name__ == "__main__":
    main()
