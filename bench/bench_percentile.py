"""A percentile change: ``pipeline.rebook`` on stored predictions (re-rank, books, P&L, metrics).

Usage: ``python bench/bench_percentile.py [--repeats 30]``

Two prediction sets on the demo universe, both from one FAST_PRESET model trained on
2000-01-04 .. 2004-12-31 (the model only decides the values, not the cost of rebooking):

- the seed's test window, 2024-10-02 .. 2025-03-27 (six months);
- twenty years, 2005-01-03 .. 2025-03-27 (fabricated by predicting with that model).

Each repeat moves the (long, short) percentiles, as a slider would. Baseline in the same
process: the full rerun a percentile change would cost without stored predictions
(``run_experiment`` with features already built, seed configuration), once.
Also reported: the engine's own per-stage timings (books / backtest / report).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

BUDGETS = {"test window": 0.050, "20 years": 0.500}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-baseline", action="store_true", help="skip the full rerun")
    args = parser.parse_args()
    h.header("Percentile change: rebook from stored predictions")

    from alpha_core.config import FAST_PRESET, RunConfig
    from alpha_core.features.library import FEATURE_NAMES, build_features
    from alpha_core.models.base import fit_model, training_rows
    from alpha_core.research.pipeline import rebook, run_experiment
    from alpha_core.signals.predictions import predict_window

    panel = h.demo_panel()
    feats = build_features(panel)
    base = RunConfig()
    train = training_rows(
        feats, date(2000, 1, 4), date(2004, 12, 31), date(2005, 1, 3), FEATURE_NAMES
    )
    # FAST_PRESET with its former 10% tail (fit_model alone has no run validation window)
    fast = dataclasses.replace(FAST_PRESET, valid_fraction=0.1)
    model = fit_model(train, FEATURE_NAMES, fast, seed=42)
    sets = {
        "test window": predict_window(model, feats, base.test_start, base.test_end),
        "20 years": predict_window(model, feats, date(2005, 1, 3), base.test_end),
    }
    pcts = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]
    rows = []
    for name, preds in sets.items():
        i = iter(range(10**9))
        stages: dict[str, list[float]] = {}

        def change(preds=preds, i=i, stages=stages):
            k = next(i)
            cfg = base.replace(long_pct=pcts[k % len(pcts)], short_pct=pcts[(k * 3) % len(pcts)])
            timings: dict[str, float] = {}
            out = rebook(preds, cfg, model.meta, timings=timings)
            for s, v in timings.items():
                stages.setdefault(s, []).append(v)
            return out

        t = h.repeat(change, args.repeats, warmup=2)
        for s in stages:
            stages[s] = stages[s][2:]
        budget = BUDGETS[name]
        verdict = "met" if h.median(t.wall) < budget else "NOT met"
        n_days = preds["date"].n_unique()
        rows.append(
            h.timing_row(
                f"{name}: rebook ({preds.height:,} rows, {n_days} dates)",
                t,
                f"{h.fmt_s(budget)}: {verdict}",
            )
        )
        for s, v in stages.items():
            rows.append(
                [f"  {name}: stage {s}", len(v), h.fmt_s(h.median(v)), h.fmt_s(h.p95(v)), "", ""]
            )
        print(rows[-1], flush=True)
    if not args.no_baseline:
        t0 = time.perf_counter()
        run_experiment(base, panel, feats=feats)
        full = time.perf_counter() - t0
        rows.append(
            [
                "baseline: full rerun, seed config, features cached",
                1,
                h.fmt_s(full),
                h.fmt_s(full),
                "",
                "",
            ]
        )
    print()
    print(h.table("Percentile change", (*h.TIMING_HEADER, "budget (median)"), rows))
    print(f"\nMachine after: {h.machine()}")


if __name__ == "__main__":
    main()
