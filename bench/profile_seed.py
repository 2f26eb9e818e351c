"""Where the seed experiment's time goes: cProfile of ``run_experiment`` on the demo universe.

Usage: ``python bench/profile_seed.py [--top 15] [--preset seed|fast]``

Prints the functions with the most cumulative time. Native work (LightGBM's boosting,
polars kernels) shows as the Python call that enters it, e.g. ``Booster.update`` for one
boosting round and ``_InnerPredictor.__inner_predict_np2d`` for a predict.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--preset", choices=["seed", "fast"], default="seed")
    args = parser.parse_args()
    h.header(f"cProfile of run_experiment ({args.preset} preset, demo universe)")

    from alpha_core.config import FAST_PRESET, RunConfig
    from alpha_core.research.pipeline import run_experiment

    config = RunConfig()
    if args.preset == "fast":
        config = config.replace(model=FAST_PRESET)
    panel = h.demo_panel()
    profiler = cProfile.Profile()
    profiler.enable()
    result = run_experiment(config, panel)
    profiler.disable()
    print(f"stage timings: { {k: round(v, 3) for k, v in result.timings.items()} }\n")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
