"""Sweep throughput by backend: a 24-trial grid x monthly walk-forward on the demo.

    python bench/bench_sweep.py [--trials 24] [--backends serial,process,ray] [--repeats 3]
    python bench/bench_sweep.py --overhead 6 --ray-workers 8

Prints seconds per backend, the speedup over serial, whether every backend wrote the same
ledger, and the load average (the figures need quiet cores: docs/scale.md).

``--overhead K`` measures Ray's task scheduling overhead on a simulated larger cluster: a
local Ray of ``--ray-workers`` worker CPUs (more than the machine's cores), and K sweep-trial
tasks sent one at a time, so each has the whole machine (all its cores' threads) as it would
on its own node, like the same trial run in this process. Each
task's latency (submit to result) is set against the same task run in this process without
Ray (median of the pairs): overhead = (Ray latency - in-process seconds) / in-process seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from alpha_core.base.executor import RayExecutor, SerialExecutor, Task, cores, make_executor
from alpha_core.config import FAST_PRESET, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.runs.sweep import SweepService, SweepSpec, grid_trials

GRID = {
    "model.num_leaves": [15, 31, 63],
    "label_transform": ["raw", "rank"],
    "long_pct": [0.1, 0.2],
    "model.feature_fraction": [0.8, 1.0],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--backends", default="serial,process,ray")
    parser.add_argument("--overhead", type=int, default=0, help="tasks for the Ray overhead")
    parser.add_argument("--ray-workers", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    panel = load_panel("demo")
    base = RunConfig(model=FAST_PRESET, walk_forward="monthly")
    spec = SweepSpec(base, grid_trials(GRID)[: args.trials])
    print(f"load average before: {os.getloadavg()}")
    if args.overhead:
        ray_overhead(spec, panel, args.overhead, args.ray_workers)
        return
    names = args.backends.split(",")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    ledgers = {}
    for rep in range(args.repeats):
        for name in names:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                executor = make_executor(name)
                found = SweepService(Path(tmp) / "runs").run(spec, panel, executor=executor)
                seconds[name].append(time.perf_counter() - t0)
                ledgers[name] = found.ledger_path.read_bytes()
            if name == "ray":  # the next repeat starts a fresh local Ray (no warm workers)
                import ray

                ray.shutdown()
            base_s = seconds.get("serial", seconds[name])[rep]
            print(
                f"repeat {rep + 1} {name:>8}: {seconds[name][rep]:8.1f} s  "
                f"speedup {base_s / seconds[name][rep]:4.2f}x  load {os.getloadavg()}"
            )
    print(f"median of {args.repeats} (each repeat runs every backend in turn):")
    for name in names:
        ratios = [
            s / t for s, t in zip(seconds.get("serial", seconds[name]), seconds[name], strict=True)
        ]
        print(
            f"{name:>8}: {statistics.median(seconds[name]):8.1f} s  speedup "
            f"{statistics.median(ratios):4.2f}x (per-repeat ratios "
            f"{', '.join(f'{r:.2f}' for r in ratios)})"
        )
    print("same ledger on every backend:", len(set(ledgers.values())) == 1)


def trial_tasks(spec: SweepSpec, panel_file: Path, out: Path, n: int) -> list[Task]:
    """The sweep's first ``n`` trials as tasks writing under ``out``."""
    return [
        Task(
            key=f"trial_{k:03d}",
            fn="alpha_core.runs.sweep:trial_task",
            kwargs={"panel": str(panel_file), "config": spec.config(k).to_dict()},
            out=out / f"{k:03d}",
        )
        for k in range(n)
    ]


def ray_overhead(spec: SweepSpec, panel, n: int, workers: int) -> None:
    """Ray latency of each trial sent alone against the same trial run in this process.

    Every task has its own seed, so no side reuses a binned Dataset kept from an earlier
    task (a worker keeps them from trial to trial; lgbm.reusing_datasets): both sides bin."""
    spec = SweepSpec(
        spec.base, tuple({**t, "seed": 1000 + k} for k, t in enumerate(spec.trials)), spec.label
    )
    warm = SweepSpec(spec.base, ({**spec.trials[0], "seed": 999},), spec.label)
    with tempfile.TemporaryDirectory() as tmp:
        panel_file = Path(tmp) / "panel.parquet"
        panel.write_parquet(panel_file)
        # each task gets this machine's threads, as the in-process run has
        ray = RayExecutor(workers=workers, threads=cores())
        # warm both sides (imports, Ray's start, a worker) before timing anything
        SerialExecutor().run(trial_tasks(warm, panel_file, Path(tmp) / "warm_here", 1))
        ray.run(trial_tasks(warm, panel_file, Path(tmp) / "warm_ray", 1))
        rows = []
        for k, (alone, remote) in enumerate(
            zip(
                trial_tasks(spec, panel_file, Path(tmp) / "here", n),
                trial_tasks(spec, panel_file, Path(tmp) / "ray", n),
                strict=True,
            )
        ):
            t0 = time.perf_counter()
            SerialExecutor().run([alone])
            here = time.perf_counter() - t0
            t0 = time.perf_counter()
            ray.run([remote])
            there = time.perf_counter() - t0
            rows.append((here, there))
            print(f"trial {k}: in process {here:6.2f} s   through Ray {there:6.2f} s")
        fractions = [(there - here) / here for here, there in rows]
        print(
            f"Ray with {workers} worker CPUs on {os.cpu_count()} cores: median overhead "
            f"{statistics.median(fractions):+.1%} of task time "
            f"(min {min(fractions):+.1%}, max {max(fractions):+.1%}); load {os.getloadavg()}"
        )


if __name__ == "__main__":
    main()
