"""SHAP for the Explain page: the test window exactly, and a sampled global view.

Usage: ``python bench/bench_shap.py [--repeats 3] [--tree-explainer-rows 2000]``

Model: the seed configuration (500 trees, 50 leaves) trained on the seed's window of the demo
universe. Timed, for the test window (2024-10-02 .. 2025-03-27, every predicted row):

- ``alpha_core.evaluation.explain.contributions`` (its fast TreeSHAP,
:mod:`alpha_core.models.lightgbm.fastshap`), with
  its one-off costs (numba compile per process, model flattening per model) shown apart;
- LightGBM's native ``booster.predict(X, pred_contrib=True)`` (the baseline);
- ``shap.TreeExplainer(booster).shap_values`` on ``--tree-explainer-rows`` rows of it
  (slow; the per-row cost is extrapolated to the window and said so).

Global view: ``explain.compute``'s sample of 2,000 training rows vs the full training window
(385k rows, exact, computed once): per feature, the sample's mean |SHAP| against the full
value, the bootstrap standard error of the sample mean, and the reported
``explain.global_importance`` standard error. Values are checked equal across methods.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree-explainer-rows", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()
    h.header("SHAP for the Explain page")

    import numpy as np
    import polars as pl

    from alpha_core.config import RunConfig
    from alpha_core.evaluation import explain
    from alpha_core.features.library import FEATURE_NAMES, build_features
    from alpha_core.models.base import feature_matrix, fit_model, training_rows
    from alpha_core.models.lightgbm import fastshap

    cfg = RunConfig()
    feats = build_features(h.demo_panel())
    train = training_rows(feats, cfg.train_start, cfg.train_end, cfg.test_start, FEATURE_NAMES)
    t0 = time.perf_counter()
    model = fit_model(train, FEATURE_NAMES, cfg.model, cfg.seed)
    print(
        f"seed model trained in {time.perf_counter() - t0:.1f} s "
        f"({model.booster.num_trees()} trees)",
        flush=True,
    )
    rows_test = explain.test_rows(model, feats, cfg.test_start, cfg.test_end)
    x = feature_matrix(rows_test, model.features)
    n = x.shape[0]
    out = []

    c0 = time.perf_counter()
    fastshap.warm_up()
    jit = time.perf_counter() - c0
    c0 = time.perf_counter()
    model.shap_tables()  # flatten the trees once; kept on the model
    flatten = time.perf_counter() - c0
    out.append(["one-off: numba compile (per process)", 1, h.fmt_s(jit), "", "", "", ""])
    out.append(["one-off: flatten model (per model)", 1, h.fmt_s(flatten), "", "", "", ""])

    fast = h.repeat(lambda: explain.contributions(model, x), args.repeats)
    native = h.repeat(lambda: model.booster.predict(x, pred_contrib=True), args.repeats)
    diff = float(np.abs(fast.result - native.result).max())
    first_view = flatten + h.median(fast.wall)
    out.append(
        h.timing_row(
            f"test window ({n:,} rows): explain.contributions (fast)",
            fast,
            f"{n / h.median(fast.wall):,.0f}",
            f"max |diff| vs native {diff:.1e}",
            f"{'met' if first_view < 3 else 'NOT met'} (+flatten: {h.fmt_s(first_view)})",
        )
    )
    out.append(
        h.timing_row(
            f"test window ({n:,} rows): LightGBM pred_contrib",
            native,
            f"{n / h.median(native.wall):,.0f}",
            "baseline",
            "met" if h.median(native.wall) < 3 else "NOT met",
        )
    )
    print(out[-1], flush=True)

    try:
        import shap

        m = min(args.tree_explainer_rows, n)
        explainer = shap.TreeExplainer(model.booster)
        te = h.repeat(lambda: explainer.shap_values(x[:m]), 1)
        d = float(np.abs(te.result - native.result[:m, :-1]).max())
        per_row = h.median(te.wall) / m
        out.append(
            h.timing_row(
                f"shap.TreeExplainer on {m:,} rows",
                te,
                f"{1 / per_row:,.0f}",
                f"max |diff| vs native {d:.1e}",
                f"window extrapolated: {h.fmt_s(per_row * n)}",
            )
        )
    except Exception as exc:  # noqa: BLE001 - report, do not fail the bench
        out.append([f"shap.TreeExplainer failed: {exc}", 0, "", "", "", "", ""])
    print(out[-1], flush=True)

    # global view: sample vs the full training window
    comp = h.repeat(lambda: explain.compute(model, feats, cfg, sample_size=args.sample), 1)
    exp = comp.result
    out.append(
        h.timing_row(
            "explain.compute (test window + 2,000-row sample)",
            comp,
            "",
            f"test {exp.meta['seconds_test']:.2f} s, sample {exp.meta['seconds_sample']:.2f} s",
            "",
        )
    )
    t0 = time.perf_counter()
    full_phi = explain.contributions(model, feature_matrix(train, model.features))
    full_s = time.perf_counter() - t0
    out.append(
        [f"full training window ({train.height:,} rows), exact", 1, h.fmt_s(full_s), "", "", "", ""]
    )
    print()
    print(h.table("SHAP (seconds)", (*h.TIMING_HEADER, "rows/s", "check", "budget 3 s"), out))

    full_mean = np.abs(full_phi[:, :-1]).mean(axis=0)
    imp = explain.global_importance(exp.sample, population=exp.meta["sample_population"])
    sample_phi = np.abs(
        exp.sample.select([explain.SHAP_PREFIX + f for f in model.features]).to_numpy()
    )
    rng = np.random.default_rng(0)
    boot = np.array(
        [
            sample_phi[rng.integers(0, len(sample_phi), len(sample_phi))].mean(axis=0)
            for _ in range(500)
        ]
    )
    se_boot = boot.std(axis=0, ddof=1)
    reported = dict(zip(imp["feature"], imp["se"], strict=True))
    rows = []
    for j, f in enumerate(model.features):
        s_mean = sample_phi[:, j].mean()
        err = s_mean - full_mean[j]
        rows.append(
            [
                f,
                f"{full_mean[j]:.3e}",
                f"{s_mean:.3e}",
                f"{err / full_mean[j]:+.1%}",
                f"{se_boot[j] / full_mean[j]:.1%}",
                f"{reported[f] / full_mean[j]:.1%}",
                f"{err / se_boot[j]:+.2f}",
            ]
        )
    rank_full = np.argsort(-full_mean)
    rank_sample = np.argsort(-sample_phi.mean(axis=0))
    print()
    print(
        h.table(
            f"Global importance: {len(sample_phi):,}-row sample vs full window",
            (
                "feature",
                "full mean |SHAP|",
                "sample",
                "sample error",
                "bootstrap se",
                "reported se",
                "error / se",
            ),
            rows,
        )
    )
    top = [model.features[i] for i in rank_full[:3]]
    same = list(rank_full[:3]) == list(rank_sample[:3])
    print(f"\nTop 3 features (full): {top}; the sample ranks the same top 3: {same}")
    print(f"\nMachine after: {h.machine()}")
    _ = pl


if __name__ == "__main__":
    main()
