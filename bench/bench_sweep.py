"""Sweep throughput by backend: a 24-trial grid x monthly walk-forward on the demo.

    PYTHONPATH=$PWD python bench/bench_sweep.py [--trials 24] [--backends serial,process,ray]

Prints seconds per backend, the speedup over serial, whether every backend wrote the same
ledger, and the load average (the figures need quiet cores: docs/scale.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from alpha_core.config import FAST_PRESET, RunConfig
from alpha_core.data import load_panel
from alpha_core.executor import make_executor
from alpha_core.runs import RunService
from alpha_core.sweep import SweepSpec, grid_trials

GRID = {
    "model.num_leaves": [15, 31, 63],
    "label_transform": ["none", "rank"],
    "long_pct": [0.1, 0.2],
    "model.feature_fraction": [0.8, 1.0],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--backends", default="serial,process,ray")
    args = parser.parse_args()
    panel = load_panel("demo")
    base = RunConfig(model=FAST_PRESET, walk_forward="monthly")
    spec = SweepSpec(base, grid_trials(GRID)[: args.trials])
    print(f"load average before: {os.getloadavg()}")
    seconds, ledgers = {}, {}
    for name in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            found = RunService(Path(tmp) / "runs").sweep(spec, panel, executor=make_executor(name))
            seconds[name] = time.perf_counter() - t0
            ledgers[name] = found.ledger_path.read_bytes()
        speedup = seconds.get("serial", seconds[name]) / seconds[name]
        print(f"{name:>8}: {seconds[name]:8.1f} s  speedup {speedup:4.2f}x  load {os.getloadavg()}")
    print("same ledger on every backend:", len(set(ledgers.values())) == 1)


if __name__ == "__main__":
    main()
