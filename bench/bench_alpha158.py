"""Alpha158 on the whole S&P 500 file: ``alpha_core.features.alpha158`` against Qlib's own handler.

Usage: ``python bench/bench_alpha158.py [--repeats 3] [--qlib-python /tmp/qlibenv/bin/python]``

Ours: ``build_alpha158`` on ../shared/data/sp500_5yr.parquet (619k rows, data in memory),
``--repeats`` timed calls after one untimed call (that first call in a fresh process loads
the numba kernels from their cache; it is shown on its own row). It runs in its own
interpreter, so its peak RSS is its own (panel included).

Qlib (only with ``--qlib-python``, a separate virtualenv with pyqlib 0.9.7; see
bench/make_alpha158_fixture.py): the same bars are written in Qlib's binary layout (not
timed), then ``qlib.contrib.data.handler.Alpha158`` with its defaults is built over the whole
span, ``--repeats`` times, each in a fresh interpreter. Its wall and CPU are those of the
handler step alone (after ``qlib.init``; CPU includes Qlib's worker processes); peak RSS is
the process's. Qlib pads each asset onto the calendar (see docs/alpha158.md), so it computes
somewhat more rows than we do. The ratio column is Qlib's median over ours.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

SCRIPT = Path(__file__).resolve()


def case_ours(repeats: int) -> None:
    import polars as pl

    from alpha_core.features.alpha158 import build_alpha158

    panel = pl.read_parquet(h.SP500)
    t0 = time.perf_counter()
    shape = build_alpha158(panel).shape
    first = time.perf_counter() - t0
    # keep only the shape: a held result would double the peak RSS during the next call
    t = h.repeat(lambda: build_alpha158(panel).shape, repeats)
    h.emit({"first": first, "wall": t.wall, "cpu": t.cpu, "rows": shape[0], "cols": shape[1]})


def run_qlib(python: str, repeats: int) -> dict:
    import polars as pl
    from _qlib_data import RUNNER, dump_qlib

    panel = pl.read_parquet(h.SP500)
    start, end = str(panel["date"].min()), str(panel["date"].max())
    walls, cpus, rss, rows = [], [], [], 0
    with tempfile.TemporaryDirectory(prefix="alpha158-bench-") as tmp:
        root = dump_qlib(panel, Path(tmp) / "qlib_data")
        for _ in range(repeats):
            res = h.run_child(
                [python, str(RUNNER), "--provider-uri", str(root)]
                + ["--start", start, "--end", end, "--mode", "handler"]
            )
            if res["returncode"] != 0:
                raise RuntimeError(f"Qlib's Alpha158 handler failed:\n{res['stderr'][-3000:]}")
            payload = json.loads(res["stdout"].strip().splitlines()[-1])
            walls.append(payload["seconds"])
            cpus.append(payload["cpu"])
            rss.append(res["maxrss_kib"])
            rows = payload["rows"]
    return {"wall": walls, "cpu": cpus, "maxrss_kib": max(rss), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--qlib-python", help="python of a virtualenv with pyqlib 0.9.7")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case == "ours":
        case_ours(args.repeats)
        return
    if not h.SP500.exists():
        sys.exit(f"needs {h.SP500} (../shared/data)")
    h.header("Alpha158 build on the S&P 500 file (sp500_5yr.parquet)")
    ours = h.run_case(SCRIPT, "ours", "--repeats", str(args.repeats))
    ours_wall, ours_cpu = h.median(ours["wall"]), h.median(ours["cpu"])
    rows = [
        [
            f"ours: build_alpha158, median of {args.repeats}",
            f"{ours['rows']:,} x {ours['cols'] - 2}",
            h.fmt_s(ours_wall),
            h.fmt_s(ours_cpu),
            h.fmt_gib(ours["maxrss_kib"]),
            "1.0x",
        ],
        ["ours: first call in a fresh process", "", h.fmt_s(ours["first"]), "", "", ""],
    ]
    if args.qlib_python:
        q = run_qlib(args.qlib_python, args.repeats)
        q_wall, q_cpu = h.median(q["wall"]), h.median(q["cpu"])
        rows.append(
            [
                f"Qlib 0.9.7: Alpha158 handler, median of {args.repeats}",
                f"{q['rows']:,} x 158",
                h.fmt_s(q_wall),
                h.fmt_s(q_cpu),
                h.fmt_gib(q["maxrss_kib"]),
                f"{q_wall / ours_wall:.0f}x wall, {q_cpu / ours_cpu:.0f}x CPU",
            ]
        )
    else:
        rows.append(["Qlib: not run (no --qlib-python); recorded elsewhere: 45-80 s", "", "", ""])
    header = ("case", "rows x features", "wall", "CPU (user+sys)", "peak RSS", "Qlib / ours")
    print(h.table("Alpha158 on 619k rows", header, rows))


if __name__ == "__main__":
    main()
