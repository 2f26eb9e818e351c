"""Shared bench helpers: repeated timing, one results table, peak memory, the machine, panels.

Every bench script prints one table with the median and p95 of repeated runs; the baseline
it compares against is measured in the same process (or, for peak memory, in a child
process per case, whose ``ru_maxrss`` is read with ``os.wait4``).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
SP500 = ROOT.parent / "shared" / "data" / "sp500_5yr.parquet"


# ------------------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Wall and CPU seconds (this process, all threads) of each repeat, and the last result."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    result: Any = None


def repeat(fn: Callable[[], Any], n: int, warmup: int = 0) -> Timing:
    """Run ``fn`` ``warmup`` + ``n`` times and time the last ``n``.

    CPU time is reported beside wall time because the bench machine may be shared: wall
    time includes waiting for a core, CPU time does not.
    """
    out = Timing()
    for _ in range(warmup):
        out.result = fn()
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        out.result = fn()
        out.wall.append(time.perf_counter() - t0)
        out.cpu.append(time.process_time() - c0)
    return out


def median(times: Sequence[float]) -> float:
    return float(np.median(times))


def p95(times: Sequence[float]) -> float:
    # nearest-rank p95 on few repeats is the maximum; say so through n in the table
    return float(np.percentile(times, 95, method="higher"))


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_gib(kib: float | None) -> str:
    return "" if kib is None else f"{kib / 2**20:.2f} GiB"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable in a terminal)."""
    n = len(header)
    cells = [[str(c) for c in header]] + [[str(c) for c in r] + [""] * (n - len(r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = [f"### {title}", ""]
    out.append("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |")
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(out)


def timing_row(case: str, t: Timing, *extra: Any) -> list[Any]:
    return [
        case,
        len(t.wall),
        fmt_s(median(t.wall)),
        fmt_s(p95(t.wall)),
        fmt_s(median(t.cpu)),
        *extra,
    ]


TIMING_HEADER = ("case", "n", "median", "p95", "CPU (median)")


# ----------------------------------------------------------------------- peak memory
def self_maxrss_kib() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(argv: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command; its wall seconds, exit code, stdout, stderr and its own peak RSS (KiB).

    The child is reaped with ``os.wait4``, whose rusage is that child's alone.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        text=True,
    )
    streams: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        streams[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("out", proc.stdout)),
        threading.Thread(target=drain, args=("err", proc.stderr)),
    ]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    return {
        "wall_s": wall,
        "returncode": proc.returncode,
        "stdout": streams.get("out", ""),
        "stderr": streams.get("err", ""),
        "maxrss_kib": usage.ru_maxrss,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def run_case(script: Path, case: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``python script --case CASE ARGS`` in a fresh interpreter, with its own peak RSS.

    The child prints one JSON object as its last stdout line; ``maxrss_kib`` is measured by
    the child itself (``ru_maxrss`` of its own process), so it is that case's alone.
    """
    res = run_child([sys.executable, str(script), "--case", case, *args], env=env)
    if res["returncode"] != 0:
        raise RuntimeError(f"{script.name} --case {case} failed:\n{res['stderr'][-3000:]}")
    payload = json.loads(res["stdout"].strip().splitlines()[-1])
    payload.setdefault("wall_s", res["wall_s"])
    return payload


def emit(payload: dict[str, Any]) -> None:
    """Child side of :func:`run_case`: print the payload with this process's peak RSS."""
    payload["maxrss_kib"] = self_maxrss_kib()
    print(json.dumps(payload, default=str))


# ------------------------------------------------------------------------- the machine
def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    # versions from metadata: importing lightgbm here would load libgomp before
    # alpha_core.models.base sets OMP_WAIT_POLICY=PASSIVE, and every later fit would spin
    v = importlib.metadata.version
    return (
        f"{cpu}; {len(os.sched_getaffinity(0))} usable cores (nproc); {mem:.1f} GiB RAM; "
        f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min); "
        f"Python {platform.python_version()}, polars {pl.__version__}, pandas "
        f"{v('pandas')}, lightgbm {v('lightgbm')}, numpy {np.__version__}"
    )


def header(title: str) -> None:
    print(f"## {title}\n\nMachine: {machine()}\n", flush=True)


# ------------------------------------------------------------------------------ panels
def demo_panel() -> pl.DataFrame:
    from alpha_core.data.demo import load_demo

    return load_demo().panel


SECTORS = (
    "Technology",
    "Financials",
    "Healthcare",
    "Energy",
    "Industrials",
    "Consumer",
    "Utilities",
    "Materials",
    "Telecom",
    "Real Estate",
    "Staples",
)


def business_days(start: date, n: int) -> np.ndarray:
    days = np.arange(np.datetime64(start), np.datetime64(start + timedelta(days=2 * n)))
    weekday = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    return days[weekday < 5][:n]


def synthetic_panel(n_assets: int = 5000, n_days: int = 3000, seed: int = 0) -> pl.DataFrame:
    """A deterministic random-walk OHLCV panel, sorted by asset then date (numpy, a few seconds).

    Assets list on staggered dates (a tenth of them up to 500 bars late) so warmups and
    first bars occur everywhere; every asset trades every business day after listing.
    """
    rng = np.random.default_rng(seed)
    dates = business_days(date(2000, 1, 3), n_days)
    start = np.where(rng.random(n_assets) < 0.1, rng.integers(0, 500, n_assets), 0)
    counts = n_days - start
    n = int(counts.sum())
    asset_idx = np.repeat(np.arange(n_assets), counts)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    day_idx = np.arange(n) - np.repeat(offsets, counts) + np.repeat(start, counts)
    vol = np.repeat(rng.uniform(0.01, 0.03, n_assets), counts)
    r = (rng.standard_normal(n, dtype=np.float32) * vol).astype(np.float64)
    r[offsets] = 0.0
    # per-asset cumulative sum without a Python loop: global cumsum minus the asset's start
    c = np.cumsum(r)
    c -= np.repeat(c[offsets], counts)
    close = np.repeat(rng.uniform(10, 200, n_assets), counts) * np.exp(c)
    gap = rng.standard_normal(n, dtype=np.float32) * 0.3 * vol
    open_ = close * np.exp(-r + gap)  # previous close times an overnight gap
    spread = np.abs(rng.standard_normal(n, dtype=np.float32)) * vol
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = np.round(np.exp(rng.normal(13, 0.5, n).astype(np.float64) + 5 * np.abs(r)))
    names = np.array([f"S{i:05d}" for i in range(n_assets)])
    sector = np.array(SECTORS)[np.arange(n_assets) % len(SECTORS)]
    return pl.DataFrame(
        {
            "date": pl.Series("date", dates[day_idx], dtype=pl.Date),
            "asset": pl.Series("asset", names).gather(asset_idx),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "sector": pl.Series("sector", sector).gather(asset_idx),
        }
    )
