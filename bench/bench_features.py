"""Feature build: ``alpha_core.features.library.build_features`` (polars) against a pandas baseline.

Usage: ``python bench/bench_features.py [--repeats 5] [--quick]``

Panels: the demo universe (~400k rows) and a simulated 5,000-asset x 3,000-day panel (~15M
rows, ``_harness.synthetic_panel``, deterministic). The baseline is
``bench/pandas_features.py`` (per-asset ``groupby().shift()`` / ``groupby().rolling()``),
written independently; both outputs are checked equal (``allclose``, rtol 1e-9) before any
timing is reported. Each (panel, implementation) runs in its own interpreter, so the peak
RSS column is that case's alone (it includes the panel itself). ``--quick`` uses a 1,000 x
3,000 panel instead of the 15M-row one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

SIZES = {"demo": None, "15M": (5000, 3000), "3M": (1000, 3000)}


def panel_of(name: str):
    if name == "demo":
        return h.demo_panel()
    n_assets, n_days = SIZES[name]
    return h.synthetic_panel(n_assets, n_days)


def case_time(name: str, impl: str, repeats: int) -> dict:
    panel = panel_of(name)
    if impl == "polars":
        from alpha_core.features.library import build_features

        t = h.repeat(lambda: build_features(panel), repeats)
    else:
        from pandas_features import pandas_features

        frame = panel.to_pandas()  # conversion not timed: the baseline starts from pandas
        t = h.repeat(lambda: pandas_features(frame), repeats)
    return {"wall": t.wall, "cpu": t.cpu, "rows": panel.height}


def case_check(name: str) -> dict:
    """Both implementations on the same panel: same rows, same values (allclose)."""
    import numpy as np
    from pandas_features import pandas_features

    from alpha_core.features.library import FEATURE_NAMES, LABEL, LABEL_END, build_features

    panel = panel_of(name)
    ours = build_features(panel)
    ref = pandas_features(panel.to_pandas())
    assert ours.height == len(ref), (ours.height, len(ref))
    assert (ours["asset"].to_numpy() == ref["asset"].to_numpy()).all()
    assert (ours["date"].to_numpy() == ref["date"].to_numpy().astype("datetime64[D]")).all()
    worst = 0.0
    for col in [*FEATURE_NAMES, LABEL]:
        a = ours[col].cast(float).to_numpy()
        b = ref[col].to_numpy(dtype=float)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=col)
        both = ~np.isnan(a) & ~np.isnan(b)
        rel = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-300)
        worst = max(worst, float(rel.max()) if rel.size else 0.0)
    ends = ours[LABEL_END].to_numpy()
    ref_ends = ref[LABEL_END].to_numpy().astype("datetime64[D]")
    assert (np.isnat(ends) == np.isnat(ref_ends)).all()
    assert (ends[~np.isnat(ends)] == ref_ends[~np.isnat(ref_ends)]).all()
    return {"rows": ours.height, "max_rel_diff": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3M-row panel instead of 15M")
    parser.add_argument("--case", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        if args.case[0] == "check":
            h.emit(case_check(args.case[1]))
        else:
            h.emit(case_time(args.case[0], args.case[1], int(args.case[2])))
        return
    h.header("Feature build: polars engine vs pandas groupby().rolling() baseline")
    me = Path(__file__)
    big = "3M" if args.quick else "15M"
    rows = []
    for name in ("demo", big):
        check = h.run_case(me, "check", name)
        print(f"{name}: outputs equal (max relative difference {check['max_rel_diff']:.1e})")
        res = {}
        for impl in ("polars", "pandas"):
            reps = (
                args.repeats if (impl == "polars" or name == "demo") else max(1, args.repeats // 2)
            )
            r = h.run_case(me, name, impl, str(reps))
            res[impl] = h.Timing(r["wall"], r["cpu"])
            n = r["rows"]
            rate = f"{n / h.median(r['wall']) / 1e6:.2f} M"
            rows.append(
                h.timing_row(
                    f"{name} ({n:,} rows) {impl}", res[impl], rate, "", h.fmt_gib(r["maxrss_kib"])
                )
            )
            print(rows[-1], flush=True)
        wall_x = h.median(res["pandas"].wall) / h.median(res["polars"].wall)
        cpu_x = h.median(res["pandas"].cpu) / h.median(res["polars"].cpu)
        rows[-2][-2] = f"{wall_x:.1f}x wall, {cpu_x:.1f}x CPU"
    print()
    header = (*h.TIMING_HEADER, "rows/s", "speed-up vs pandas", "peak RSS")
    print(h.table("Feature build (12 features + label)", header, rows))
    print(f"\nMachine after: {h.machine()}")


if __name__ == "__main__":
    main()
