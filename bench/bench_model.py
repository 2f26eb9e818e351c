"""Model fit on the demo training window: the seed's configuration against FAST_PRESET.

Usage: ``python bench/bench_model.py [--repeats 3] [--quick]``

For each preset: fit seconds (median / p95 over repeats, wall and CPU), peak RSS of the fitting
process, and the out-of-sample rank IC, so that speed is never bought with accuracy silently.
Two splits: the seed's (train 2000-01-04 .. 2024-10-01, test 2024-10-02 .. 2025-03-27, 6
months) and a longer one (train .. 2019-12-31, test 2020-01-02 .. 2025-03-27, 5 years), because
six months of daily rank IC is too noisy to tell two models apart. Also times 50 seed trees
with OpenMP threads spinning while they wait (``OMP_WAIT_POLICY=ACTIVE``, the libgomp
default) against passive waiting (what ``alpha_core.models.base`` sets), each in its own process.
Each case runs in a fresh interpreter (``--case``) so its peak RSS is its own. The last column
is what ``fit_model`` used to spend predicting its own training rows for ``train_rmse``
(it now reads LightGBM's training scores, the same bits).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

SPLITS = {
    "seed split (6-month test)": (
        date(2000, 1, 4),
        date(2024, 10, 1),
        date(2024, 10, 2),
        date(2025, 3, 27),
    ),
    "long split (5-year test)": (
        date(2000, 1, 4),
        date(2019, 12, 31),
        date(2020, 1, 2),
        date(2025, 3, 27),
    ),
}


def case_fit(preset: str, split: str, repeats: int, n_estimators: int = 0) -> dict:
    from alpha_core.config import FAST_PRESET, SEED_PRESET
    from alpha_core.evaluation.metrics import daily_ic
    from alpha_core.features.library import FEATURE_NAMES, build_features
    from alpha_core.models.base import fit_model, training_rows
    from alpha_core.signals.predictions import predict_window

    # The fast preset as measured in docs/performance.md: early stopping on its own 10% tail
    # (fit_model alone has no run validation window; runs now stop on that, issue 9).
    fast = dataclasses.replace(FAST_PRESET, valid_fraction=0.1)
    params = fast if preset == "fast" else SEED_PRESET
    if n_estimators:
        params = dataclasses.replace(params, n_estimators=n_estimators)
    train_start, train_end, test_start, test_end = SPLITS[split]
    feats = build_features(h.demo_panel())
    train = training_rows(feats, train_start, train_end, test_start, FEATURE_NAMES)
    t = h.repeat(lambda: fit_model(train, FEATURE_NAMES, params, seed=42), repeats)
    model = t.result
    # what fit_model used to spend on train_rmse (predicting its own training rows)
    from alpha_core.models.base import feature_matrix

    x = feature_matrix(train, FEATURE_NAMES)
    removed = h.repeat(lambda: model.booster.predict(x), 1)
    preds = predict_window(model, feats, test_start, test_end)
    ic = daily_ic(preds)["rank_ic"].drop_nulls().to_numpy()
    return {
        "wall": t.wall,
        "cpu": t.cpu,
        "rank_ic_mean": float(ic.mean()),
        "rank_ic_se": float(ic.std(ddof=1) / math.sqrt(ic.size)),
        "n_test_days": int(ic.size),
        "n_train_rows": train.height,
        "trees": model.booster.num_trees(),
        "best_iteration": model.meta.get("best_iteration"),
        "train_predict_s": removed.wall[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="seed split only, 1 repeat")
    parser.add_argument("--case", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        preset, split, repeats, n_est = args.case
        h.emit(case_fit(preset, split, int(repeats), int(n_est)))
        return
    h.header("Model fit: seed configuration vs FAST_PRESET (demo universe)")
    me = Path(__file__)
    splits = list(SPLITS)[:1] if args.quick else list(SPLITS)
    rows = []
    for split in splits:
        reps = str(args.repeats if split == splits[0] else 1)
        for preset in ("seed", "fast"):
            r = h.run_case(me, preset, split, reps, "0")
            t = h.Timing(r["wall"], r["cpu"])
            ic = f"{r['rank_ic_mean']:.4f} ± {r['rank_ic_se']:.4f}"
            rows.append(
                h.timing_row(
                    f"{preset} — {split}",
                    t,
                    fmt_trees(r),
                    ic,
                    h.fmt_gib(r["maxrss_kib"]),
                    h.fmt_s(r["train_predict_s"]),
                )
            )
            print(rows[-1], flush=True)
    for policy in ("ACTIVE", "PASSIVE"):
        r = h.run_case(me, "seed", splits[0], "1", "50", env={"OMP_WAIT_POLICY": policy})
        t = h.Timing(r["wall"], r["cpu"])
        rows.append(h.timing_row(f"seed, 50 trees, OMP_WAIT_POLICY={policy}", t, "50"))
        print(rows[-1], flush=True)
    print()
    header = (
        *h.TIMING_HEADER,
        "trees (best it.)",
        "OOS rank IC ± se",
        "peak RSS",
        "train-set predict (no longer in the fit)",
    )
    print(h.table("Model fit (seconds per fit)", header, rows))
    print(f"\nMachine after: {h.machine()}")


def fmt_trees(r: dict) -> str:
    return str(r["trees"]) if r["best_iteration"] is None else f"{r['trees']} (es)"


if __name__ == "__main__":
    main()
