"""S&P 500 split: every built-in model type's validation and test rank IC, side by side.

Each type runs as one ``alpha run --select valid`` process (Alpha158 features, the split of
DEVELOPERS.md with the validation window 2016-01-04 .. 2016-06-30, 5 bps). The validation
rank IC is the chosen candidate's (read back from the run's ``candidates.parquet``: the
choice is made there, before the test window is scored); the test rank IC is the run's
``rank_ic_mean``, with its standard error. CPU is user + sys of the whole process.

Run: ``python bench/bench_model_types.py [--types lightgbm,linear,ensemble]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sp500_5yr.parquet"
SPLIT = [
    "--train-start", "2013-03-01", "--train-end", "2016-06-30",
    "--valid-start", "2016-01-04", "--valid-end", "2016-06-30",
    "--test-start", "2016-07-01", "--test-end", "2018-01-31",
]  # fmt: skip


def run(model_type: str, root: Path) -> dict:
    """One ``alpha run`` of ``model_type``; its metrics, the chosen candidate's row, CPU."""
    cmd = [sys.executable, "-m", "alpha_core.cli.main", "run", "--data", str(DATA), "--json"]
    cmd += ["--artifacts", str(root / model_type), "--on-bad-bars", "drop", "--cost-bps", "5"]
    cmd += [*SPLIT, "--feature-set", "alpha158", "--select", "valid", "--no-explain"]
    cmd += ["--model-type", model_type]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    (folder,) = (root / model_type).iterdir()
    table = pl.read_parquet(folder / "candidates.parquet")
    chosen = table.filter(pl.col("chosen")).row(0, named=True)
    return {"metrics": metrics, "chosen": chosen, "n": table.height, "cpu": cpu, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--types", default="lightgbm,linear,ensemble")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: this bench needs the S&P 500 file")
    print(f"load at start: {os.getloadavg()[0]:.2f} (2 cores)")
    header = "| model type | candidates | chosen | valid rank IC | test rank IC (s.e.) | "
    header += "net Sharpe 5 bps | CPU s | wall s |"
    rows = [header, "|" + "---|" * 8]
    with tempfile.TemporaryDirectory() as tmp:
        for model_type in args.types.split(","):
            r = run(model_type, Path(tmp))
            m, c = r["metrics"], r["chosen"]
            se = m.get("rank_ic_se")
            rows.append(
                f"| {model_type} | {r['n']} | {c['candidate']} | {c['valid_rank_ic']:.4f} | "
                f"{m['rank_ic_mean']:.4f}"
                + (f" ({se:.4f})" if se is not None else "")
                + f" | {m.get('sharpe_net', float('nan')):.2f} | {r['cpu']:.1f} | "
                f"{r['wall']:.1f} |"
            )
            print(rows[-1], flush=True)
    print(f"load at end: {os.getloadavg()[0]:.2f}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
