"""The seed experiment end to end on the demo universe, and seconds per stage.

Usage: ``python bench/bench_seed.py [--repeats 3] [--fast-too]``

1. ``alpha run --no-save --json`` (the CLI, default seed configuration) in a fresh
   interpreter: wall seconds including Python start-up, imports and data load, and peak RSS.
2. In one process: ``load_panel("demo")`` and ``run_experiment`` with the seed's
   configuration, per stage from ``RunResult.timings``; median over repeats.
``--fast-too`` adds ``alpha run --model-preset fast``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


def cli_run(extra: list[str]) -> dict:
    argv = [sys.executable, "-m", "alpha_core.cli.main", "run", "--no-save", "--json", *extra]
    return h.run_child(argv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fast-too", action="store_true")
    args = parser.parse_args()
    h.header("Seed experiment end to end (`alpha run` on the demo universe)")

    rows = []
    variants = [("seed", [])] + ([("fast", ["--model-preset", "fast"])] if args.fast_too else [])
    metrics = {}
    for name, extra in variants:
        walls, cpus, rss = [], [], 0
        for _ in range(args.repeats):
            r = cli_run(extra)
            if r["returncode"] != 0:
                raise SystemExit(f"alpha run failed:\n{r['stderr'][-2000:]}")
            walls.append(r["wall_s"])
            cpus.append(r["cpu_s"])
            rss = max(rss, r["maxrss_kib"])
            metrics[name] = json.loads(r["stdout"].strip().splitlines()[-1])
        rows.append(
            [
                f"`alpha run` ({name} preset), whole process",
                len(walls),
                h.fmt_s(h.median(walls)),
                h.fmt_s(h.p95(walls)),
                h.fmt_s(h.median(cpus)),
                h.fmt_gib(rss),
            ]
        )
        print(rows[-1], flush=True)

    from alpha_core.config import RunConfig
    from alpha_core.data.panel import load_panel
    from alpha_core.research.pipeline import run_experiment

    load = h.repeat(lambda: load_panel("demo"), args.repeats)
    panel = load.result
    stages: dict[str, list[float]] = {}
    totals = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = run_experiment(RunConfig(), panel)
        totals.append(time.perf_counter() - t0)
        for k, v in result.timings.items():
            stages.setdefault(k, []).append(v)
    rows.append(h.timing_row("data load (`load_panel('demo')`, cached Parquet)", load, ""))
    for k, v in stages.items():
        rows.append([f"stage: {k}", len(v), h.fmt_s(h.median(v)), h.fmt_s(h.p95(v)), "", ""])
    rows.append(
        [
            "run_experiment total (in process)",
            len(totals),
            h.fmt_s(h.median(totals)),
            h.fmt_s(h.p95(totals)),
            "",
            "",
        ]
    )
    print()
    print(h.table("Seed experiment (seconds)", (*h.TIMING_HEADER, "peak RSS"), rows))
    for name, m in metrics.items():
        print(
            f"\n{name}: rank_ic_mean={m.get('rank_ic_mean')}, sharpe={m.get('sharpe')}, "
            f"n_train_rows={m.get('n_train_rows')}"
        )
    print(f"\nMachine after: {h.machine()}")


if __name__ == "__main__":
    main()
