"""Time the Explain page's SHAP for a demo run: fast TreeSHAP vs LightGBM's, and the cache.

Usage: ``python bench/bench_explain.py [--run RUN_ID] [--repeats 3] [--native]``

Uses the newest demo run in the registry (the default run has 500 trees of 50 leaves), else
trains the seed's configuration (slow). Prints, for the test window: one-off costs (numba
compile, model flattening), the SHAP computation (median of repeats) and reading the cached
Parquet back, as the Explain page does. ``--native`` also times LightGBM's pred_contrib.
Budget: 3 s for the test window.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from alpha_core.config import RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.evaluation import explain
from alpha_core.features.library import build_features
from alpha_core.models.base import feature_matrix
from alpha_core.models.lightgbm import fastshap
from alpha_core.research.pipeline import run_experiment
from alpha_core.runs.registry import list_runs, load_run

BUDGET_S = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--native", action="store_true")
    args = parser.parse_args()
    panel = load_panel("demo")
    runs = [i for i in list_runs() if i.config.get("data") == "demo"]
    if args.run or runs:
        result = load_run(args.run or runs[0].run_id)
    else:
        result = run_experiment(RunConfig(), panel)
    feats = build_features(panel, label=result.config.label, features=result.model.features)
    model = result.model
    rows = explain.test_rows(model, feats, result.config.test_start, result.config.test_end)
    x = feature_matrix(rows, model.features)
    print(f"model: {model.booster.num_trees()} trees; test window: {x.shape[0]:,} rows")
    t0 = time.perf_counter()
    fastshap.warm_up()
    jit = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = fastshap.compile_model(model.booster, len(model.features))
    flatten = time.perf_counter() - t0
    runs_s, cpu_s = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        phi = fastshap.shap_values(compiled, x)
        runs_s.append(time.perf_counter() - t0)
        cpu_s.append(time.process_time() - c0)
    print(f"| {'step':<44} | {'seconds':>8} |")
    print(f"|{'-' * 46}|{'-' * 10}|")
    print(f"| {'numba compile (once per process)':<44} | {jit:8.2f} |")
    print(f"| {'flatten model + leaf tables (once per run)':<44} | {flatten:8.2f} |")
    print(
        f"| {'fast TreeSHAP, test window (median wall)':<44} | {statistics.median(runs_s):8.2f} |"
    )
    print(f"| {'fast TreeSHAP, test window (median CPU)':<44} | {statistics.median(cpu_s):8.2f} |")
    if args.native:
        t0, c0 = time.perf_counter(), time.process_time()
        ref = model.booster.predict(x, pred_contrib=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"| {'LightGBM pred_contrib (wall)':<44} | {wall:8.2f} |")
        print(f"| {'LightGBM pred_contrib (CPU)':<44} | {cpu:8.2f} |")
        print(f"max |fast - LightGBM| = {np.abs(phi - ref).max():.2e}")
    with tempfile.TemporaryDirectory() as tmp:
        exp = explain.compute(result.models, feats, result.config)
        explain.save_cached(Path(tmp), exp)
        t0 = time.perf_counter()
        explain.load_cached(Path(tmp))
        cached = time.perf_counter() - t0
    print(f"| {'read the cached SHAP (Explain page revisit)':<44} | {cached:8.2f} |")
    first = flatten + statistics.median(runs_s)
    verdict = "within" if first < BUDGET_S else "OVER"
    print(f"first view (flatten + SHAP): {first:.2f} s, {verdict} the {BUDGET_S:.0f} s budget")


if __name__ == "__main__":
    main()
