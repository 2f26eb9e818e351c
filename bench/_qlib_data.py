"""A panel in Qlib's binary data layout, and Qlib's Alpha158 run in its own virtualenv.

The layout is what Qlib's ``scripts/dump_bin.py`` writes: ``calendars/day.txt`` (one date a
line), ``instruments/all.txt`` (``SYMBOL<TAB>first<TAB>last``) and, per instrument,
``features/<symbol lower>/<field>.day.bin``: little-endian float32, the first value the
index of the instrument's first date in the calendar, then one value per calendar day from
its first to its last date (NaN where the instrument has no bar, as Qlib pads it).
``factor`` is 1, so Qlib's ``$close`` etc. are the panel's prices as given.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.base.storage import write_atomic

FIELDS = ("open", "high", "low", "close", "volume")
RUNNER = Path(__file__).resolve().parent / "_qlib_alpha158.py"


def dump_qlib(panel: pl.DataFrame, root: Path) -> Path:
    """Write ``panel`` (date, asset, OHLCV and optional vwap) under ``root`` in Qlib's layout."""
    root = Path(root)
    fields = [*FIELDS, *(["vwap"] if "vwap" in panel.columns else [])]
    calendar = panel["date"].unique().sort()
    write_atomic(root / "calendars" / "day.txt", "".join(f"{d}\n" for d in calendar))
    position = {d: i for i, d in enumerate(calendar.to_list())}
    lines = []
    for (asset,), bars in panel.sort("asset", "date").group_by("asset", maintain_order=True):
        dates = bars["date"].to_list()
        first, last = position[dates[0]], position[dates[-1]]
        rows = np.array([position[d] for d in dates]) - first
        lines.append(f"{asset}\t{dates[0]}\t{dates[-1]}\n")
        for field in [*fields, "factor"]:
            values = np.full(last - first + 1, np.nan, dtype="<f4")
            values[rows] = 1.0 if field == "factor" else bars[field].cast(pl.Float32).to_numpy()
            data = np.concatenate([np.array([first], dtype="<f4"), values]).tobytes()
            write_atomic(root / "features" / str(asset).lower() / f"{field}.day.bin", data)
    write_atomic(root / "instruments" / "all.txt", "".join(lines))
    return root


def run_qlib_alpha158(
    python: str, root: Path, start: str, end: str, mode: str, out: Path | None = None
) -> dict:
    """Run Qlib's Alpha158 (``mode`` loader or handler) with the venv's ``python``."""
    argv = [python, str(RUNNER), "--provider-uri", str(root), "--start", start, "--end", end]
    argv += ["--mode", mode, *(["--out", str(out)] if out else [])]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"Qlib's Alpha158 failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


WORKFLOW = Path(__file__).resolve().parent / "_qlib_workflow.py"


def run_qlib_workflow(
    python: str,
    panel: pl.DataFrame,
    cost_bps: float | None = None,
    segments: dict[str, list[str]] | None = None,
) -> dict:
    """Qlib's Alpha158 + LightGBM workflow (``_qlib_workflow.py --label next-day --records``)
    on ``panel`` as one process under ``/usr/bin/time -v``: its JSON line plus ``cpu``
    (user + sys, its workers included), ``wall`` and ``rss_gib``. Run in a temporary folder:
    Qlib's experiment recorder writes ``mlruns/`` there."""
    with tempfile.TemporaryDirectory(prefix="qlib-workflow-") as tmp:
        root = dump_qlib(panel, Path(tmp) / "qlib_data")
        argv = ["/usr/bin/time", "-v", python, str(WORKFLOW), "--provider-uri", str(root)]
        argv += ["--label", "next-day", "--records"]
        argv += [] if cost_bps is None else ["--cost-bps", str(cost_bps)]
        argv += [] if segments is None else ["--segments", json.dumps(segments)]
        env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
        for _ in range(2):  # mlflow's file store sometimes reads a metric file being written
            t0 = time.perf_counter()
            res = subprocess.run(
                argv, capture_output=True, text=True, cwd=tmp, env=env, check=False
            )
            wall = time.perf_counter() - t0
            if "is malformed. No data found" not in res.stderr:
                break
            shutil.rmtree(Path(tmp) / "mlruns", ignore_errors=True)
    if res.returncode != 0:
        raise RuntimeError(f"Qlib's workflow failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])

    def field(name: str) -> float:
        match = re.search(rf"{name}: ([\d.]+)", res.stderr)
        return float(match.group(1)) if match else float("nan")

    cpu = field(r"User time \(seconds\)") + field(r"System time \(seconds\)")
    rss = field(r"Maximum resident set size \(kbytes\)") / 2**20
    return {**out, "cpu": cpu, "wall": wall, "rss_gib": rss}
