"""The command researchers run, `--feature-set alpha158 --select valid`, against Qlib's workflow.

Two panels, each in the same bench run as Qlib 0.9.7's Alpha158 + LightGBM workflow
(``--qlib-python``, a virtualenv with pyqlib) on the same bars and windows:

1. the S&P 500 file of DEVELOPERS.md (train 2013-03-01 .. 2016-06-15, its last six months
   the validation window; test 2016-07-01 .. 2018-01-31; bad bars dropped);
2. a synthetic random-walk panel of ``--assets`` (600) names x ``--years`` (12) years
   (``bench_scale.synthetic_panel``, ending 2018-01-31): train from its start to 2016-06-30,
   validation its last six months, test 2016-07-01 .. 2018-01-24 (Qlib's backtest needs bars
   after its test window). It holds no signal (rank
   IC near 0): it measures CPU and memory at the size of a long, wide universe.

For each: ``alpha run --json --cost-bps 5 --no-explain`` with the flags above as one process
under ``/usr/bin/time -v`` (CPU = user + sys, wall, peak RSS), its test rank IC and choice;
then the same run in a process that samples its resident memory every 5 ms and marks the
run's progress stages (peak by stage, against the size of the feature frame: rows x
features x 4 bytes); then Qlib's workflow (CPU, RSS, rank IC). Ratios are ours / Qlib's.
Targets (issue 22): CPU at most 0.25x Qlib's on the S&P 500, 0.35x on the synthetic panel;
peak memory at most 1.6x the feature frame or 1.9 GiB, whichever is larger.

Run: ``python bench/bench_select.py [--qlib-python /tmp/qlibenv/bin/python] [--skip-sp500]
[--skip-synthetic]`` (about 15 minutes on 2 cores with Qlib).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _qlib_data import run_qlib_workflow  # noqa: E402
from bench_scale import synthetic_panel  # noqa: E402

SP500 = ROOT.parent / "shared" / "data" / "sp500_5yr.parquet"
COMMAND = ["--feature-set", "alpha158", "--select", "valid", "--cost-bps", "5", "--no-explain"]
SP500_SPLIT = [
    "--train-start", "2013-03-01", "--train-end", "2016-06-15",
    "--test-start", "2016-07-01", "--test-end", "2018-01-31", "--on-bad-bars", "drop",
]  # fmt: skip
SYNTHETIC_SPLIT = [
    "--train-end",
    "2016-06-30",
    "--test-start",
    "2016-07-01",
    "--test-end",
    "2018-01-24",
]
SYNTHETIC_SEGMENTS = {
    "train": ["2006-01-01", "2015-12-31"],
    "valid": ["2016-01-01", "2016-06-30"],
    "test": ["2016-07-01", "2018-01-24"],  # Qlib's backtest needs a bar after the test
}


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_run(data: Path, flags: list[str], root: Path) -> dict:
    """One ``alpha run --json`` process under ``/usr/bin/time -v``: metrics, CPU, RSS."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "alpha_core.cli.main", "run"]
    cmd += ["--data", str(data), "--json", "--artifacts", str(root), *COMMAND, *flags]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["_wall"] = time.perf_counter() - t0
    out["_cpu"] = sum(_field(done.stderr, f"{w} time \\(seconds\\)") for w in ("User", "System"))
    out["_rss_gib"] = _field(done.stderr, r"Maximum resident set size \(kbytes\)") / 2**20
    return out


def _field(text: str, name: str) -> float:
    match = re.search(rf"{name}: ([\d.]+)", text)
    return float(match.group(1)) if match else float("nan")


def stages(data: Path, flags: list[str], root: Path) -> dict:
    """Peak resident memory by progress stage of the same command, in a fresh process."""
    code = f"""
import json, sys, time
sys.path.insert(0, {str(ROOT / "bench")!r})
from bench_scale import StageMemory
import alpha_core.research.pipeline as pipeline
memory = StageMemory()
memory.mark("start")
run = pipeline.run_experiment
frames = {{}}
def watched(config, panel, *a, on_progress=None, **k):
    def progress(p):
        memory.mark(p.stage)
        if on_progress:
            on_progress(p)
    result = run(config, panel, *a, on_progress=progress, **k)
    frames["features"] = len(result.model.features)
    if result.features is not None:
        frames["bytes"] = result.features.estimated_size()
    return result
pipeline.run_experiment = watched
import alpha_core.runs.service as service
service.run_experiment = watched
from alpha_core.cli.main import main
code = main(["run", "--data", {str(data)!r}, "--json", "--artifacts", {str(root)!r},
             *{COMMAND + flags!r}])
memory.mark("end")
time.sleep(0.05)
print(json.dumps({{"order": memory.order[:-1], "start": memory.start, "peak": memory.peak,
                   "features": frames.get("features"), "bytes": frames.get("bytes")}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode:
        sys.exit(f"stage memory run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(
    name: str, data: Path, flags: list[str], qlib: str | None, segments: dict | None
) -> None:
    panel = pl.read_parquet(data)
    print(f"\n## {name}: {panel['asset'].n_unique()} assets, {panel.height:,} rows; load {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        ours = timed_run(data, flags, Path(tmp) / "a")
        mem = stages(data, flags, Path(tmp) / "b")
    print(
        f"ours: CPU {ours['_cpu']:.1f} s, wall {ours['_wall']:.1f} s, peak RSS "
        f"{ours['_rss_gib']:.2f} GiB; test rank IC {ours['rank_ic_mean']:.4f}, validation "
        f"{ours.get('valid_rank_ic', float('nan')):.4f}, chosen {ours.get('chosen_candidate')}"
    )
    frame = mem["bytes"] or panel.height * (mem["features"] or 0) * 4
    print(f"feature frame ({mem['features']} model features; the run's whole frame): "
          f"{frame / 2**30:.2f} GiB")  # fmt: skip
    print("| stage | memory at start (GiB) | peak (GiB) |\n|---|---|---|")
    for stage in mem["order"]:
        start, peak = mem["start"][stage], mem["peak"].get(stage, mem["start"][stage])
        print(f"| {stage} | {start / 2**30:.2f} | {peak / 2**30:.2f} |")
    top = max(mem["peak"].values())
    bound = max(1.6 * frame, 1.9 * 2**30)
    print(f"peak {top / 2**30:.2f} GiB = {top / max(frame, 1):.2f}x the frame; bound "
          f"{bound / 2**30:.2f} GiB")  # fmt: skip
    if qlib:
        q = run_qlib_workflow(qlib, panel, cost_bps=5.0, segments=segments)
        print(
            f"Qlib: CPU {q['cpu']:.1f} s, wall {q['wall']:.1f} s, peak RSS {q['rss_gib']:.2f} "
            f"GiB, rank IC {q['rank_ic_mean']:.4f}\nratio (ours / Qlib): CPU "
            f"{ours['_cpu'] / q['cpu']:.2f}x, peak RSS {ours['_rss_gib'] / q['rss_gib']:.2f}x"
        )
    print(f"load after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qlib-python", default=None)
    parser.add_argument("--assets", type=int, default=600)
    parser.add_argument("--years", type=int, default=12)
    parser.add_argument("--skip-sp500", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    print(f"load at start: {load()} ({os.cpu_count()} cores)")
    if not args.skip_sp500:
        if SP500.exists():
            report("S&P 500", SP500, SP500_SPLIT, args.qlib_python, None)
        else:
            print(f"skipping the S&P 500: {SP500} is absent")
    if not args.skip_synthetic:
        days = args.years * 252
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "synthetic.parquet"
            panel = synthetic_panel(args.assets, days)
            weekdays = pl.date_range(date(1990, 1, 1), date(2018, 1, 31), "1d", eager=True)
            weekdays = weekdays.filter(weekdays.dt.weekday() <= 5)[-days:]
            moved = pl.DataFrame({"date": panel["date"].unique().sort(), "new": weekdays})
            panel = panel.join(moved, on="date").drop("date").rename({"new": "date"})
            panel.sort("asset", "date").write_parquet(path)
            del panel
            report("synthetic", path, SYNTHETIC_SPLIT, args.qlib_python, SYNTHETIC_SEGMENTS)


if __name__ == "__main__":
    main()
