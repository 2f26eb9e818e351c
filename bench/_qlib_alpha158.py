"""Runs INSIDE the separate Qlib virtualenv (never the project's): Qlib's own Alpha158.

Usage (by bench/make_alpha158_fixture.py and bench/bench_alpha158.py, not by hand):
  /tmp/qlibenv/bin/python bench/_qlib_alpha158.py --provider-uri DIR --start D --end D
      --mode loader|handler [--out FILE.parquet]

``loader``: ``Alpha158DL`` (Qlib's Alpha158 feature expressions, raw values, no processors),
the features of the golden fixture. ``handler``: ``qlib.contrib.data.handler.Alpha158`` with
its defaults (features and label, learn processors DropnaLabel + CSZScoreNorm), the object a
Qlib workflow builds; timed by the bench. Prints one JSON line: rows, columns, and the wall
and CPU seconds of the Alpha158 step alone (after ``qlib.init``).
Imports only qlib, pandas and the standard library.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import pandas as pd
import qlib
from qlib.constant import REG_US


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--provider-uri", required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--end", required=True)
    ap.add_argument("--mode", choices=("loader", "handler"), default="loader")
    ap.add_argument("--out")
    args = ap.parse_args()
    qlib.init(provider_uri=args.provider_uri, region=REG_US)
    t0, cpu0 = time.perf_counter(), _cpu()
    if args.mode == "loader":
        from qlib.contrib.data.loader import Alpha158DL

        frame = Alpha158DL().load(instruments="all", start_time=args.start, end_time=args.end)
    else:
        from qlib.contrib.data.handler import Alpha158

        handler = Alpha158(
            instruments="all",
            start_time=args.start,
            end_time=args.end,
            fit_start_time=args.start,
            fit_end_time=args.end,
        )
        frame = handler.fetch(col_set="feature")
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    if args.out:
        frame = frame.copy()
        if isinstance(frame.columns, pd.MultiIndex):
            frame.columns = frame.columns.get_level_values(-1)
        frame = frame.reset_index().rename(columns={"datetime": "date", "instrument": "asset"})
        frame.to_parquet(args.out, index=False)
    print(
        json.dumps({"rows": len(frame), "columns": frame.shape[1], "seconds": seconds, "cpu": cpu})
    )


def _cpu() -> float:
    """User + system seconds of this process and of its reaped workers (Qlib's joblib pool)."""
    own, workers = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


if __name__ == "__main__":
    main()
