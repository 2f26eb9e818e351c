"""S&P 500: seed12 vs Alpha158, raw vs z-scored label, `--select valid`; all via `alpha run`.

Split (DEVELOPERS.md, Qlib's): train 2013-03-01 .. 2015-12, validation 2016-01-04 .. 2016-06-30,
test 2016-07-01 .. 2018-01-31, next-day close-to-close label, top/bottom 20%, 5 bps costs.
The bar to beat: Qlib's Alpha158 + LightGBM, mean rank IC 0.0101 on this split.

Every figure is a separate ``alpha run`` process, one at a time (the machine is shared):

1. ``--select valid`` on Alpha158: the run trains the fixed candidates
   (``alpha_core.research.selection.CANDIDATES``) before the validation window, chooses by
   validation
   rank IC, refits on the whole training span and tests. Its candidate table is read back.
2. Every candidate run again explicitly (its ``flags``, ``--select none``): its test row is
   printed for transparency; none of them informs the choice (made in step 1 on validation).
   The chosen candidate's explicit run is the timed one: user + sys CPU of the whole process
   (``/usr/bin/time -v``), with and without the SHAP explanations.
3. The 2 x 2 grid seed12/alpha158 x raw/zscore with ``--model-preset fast`` (early stopping
   on the validation window chooses the number of trees; no candidate choice).
4. With ``--issue-command``, the issue's acceptance command verbatim (train to 2016-06-15,
   default validation window: the six months before it).

Run: ``python bench/bench_sp500_alpha158.py [--issue-command]`` (about 10 minutes).
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
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sp500_5yr.parquet"
SPLIT = [
    "--train-start", "2013-03-01", "--train-end", "2016-06-30",
    "--valid-start", "2016-01-04", "--valid-end", "2016-06-30",
    "--test-start", "2016-07-01", "--test-end", "2018-01-31",
]  # fmt: skip
ISSUE = [
    "--train-start", "2013-03-01", "--train-end", "2016-06-15",
    "--test-start", "2016-07-01", "--test-end", "2018-01-31",
]  # fmt: skip
QLIB_RANK_IC, QLIB_CPU = 0.0101, 125.0


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def alpha_run(flags: list[str], root: Path, timed: bool = False) -> dict:
    """One ``alpha run --json`` process; its metrics, and its CPU/wall/RSS when ``timed``."""
    cmd = [sys.executable, "-m", "alpha_core.cli.main", "run", "--data", str(DATA), "--json"]
    cmd += ["--artifacts", str(root), "--cost-bps", "5", *bad_bars(), *flags]
    if timed:
        cmd = ["/usr/bin/time", "-v", *cmd]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["_wall"] = wall
    if timed:
        out["_cpu"] = _seconds(done.stderr, "User time") + _seconds(done.stderr, "System time")
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        out["_rss_gib"] = int(rss.group(1)) / 2**20 if rss else float("nan")
    return out


def _seconds(text: str, what: str) -> float:
    match = re.search(rf"{what} \(seconds\): ([\d.]+)", text)
    return float(match.group(1)) if match else float("nan")


_BAD_BARS: list[str] | None = None


def bad_bars() -> list[str]:
    """``--on-bad-bars drop`` when the CLI has the flag (another engineer adds it)."""
    global _BAD_BARS
    if _BAD_BARS is None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        help_text = subprocess.run(
            [sys.executable, "-m", "alpha_core.cli.main", "run", "--help"],
            capture_output=True, text=True, env=env, cwd=ROOT,
        ).stdout  # fmt: skip
        _BAD_BARS = ["--on-bad-bars", "drop"] if "--on-bad-bars" in help_text else []
    return _BAD_BARS


def row(name: str, m: dict, valid: float | None = None) -> str:
    v = "" if valid is None else f"{valid:.4f}"
    return (
        f"| {name} | {v} | {m['rank_ic_mean']:.4f} | {m['sharpe']:.2f} "
        f"[{m['sharpe_ci_low']:.2f}, {m['sharpe_ci_high']:.2f}] | {m['sharpe_net']:.2f} | "
        f"{m['turnover_mean']:.2f} | {m['_wall']:.0f} |"
    )


HEADER = (
    "| run | valid rank IC | test rank IC | test Sharpe gross [95%] | Sharpe net 5 bps "
    "| turnover/day | wall s |\n|---|---|---|---|---|---|---|"
)


def print_timed(timed: dict[str, dict], qlib_cpu: float = QLIB_CPU, qlib: str = "") -> None:
    """One line per timed ``alpha run`` of the chosen configuration, against Qlib's CPU
    (``qlib``: how that figure was had; default the ~125 s quoted in DEVELOPERS.md)."""
    qlib = qlib or f"Qlib's ~{qlib_cpu:.0f} s quoted in DEVELOPERS.md"
    for what, m in timed.items():
        print(
            f"chosen configuration, whole `alpha run` ({what}): CPU {m['_cpu']:.1f} s "
            f"(user+sys; {m['_cpu'] / qlib_cpu:.3f} of {qlib}), "
            f"wall {m['_wall']:.1f} s, peak RSS {m['_rss_gib']:.2f} GiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issue-command", action="store_true")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    print(f"load average before: {load()}  (nproc {os.cpu_count()}, bad bars: {bad_bars()})")
    lines = [HEADER]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        select = alpha_run([*SPLIT, "--feature-set", "alpha158", "--select", "valid",
                            "--no-explain"], root / "select")  # fmt: skip
        (folder,) = [p for p in (root / "select").iterdir() if p.is_dir()]
        table = pl.read_parquet(folder / "candidates.parquet")
        chosen = table.filter(pl.col("chosen")).row(0, named=True)
        lines.append(row(f"**--select valid** (chose {chosen['candidate']})", select,
                         select["valid_rank_ic"]))  # fmt: skip
        print(f"select run done (load {load()})", file=sys.stderr, flush=True)
        timed = {}
        for cand in table.iter_rows(named=True):
            flags = [*SPLIT, *cand["flags"].split(), "--no-explain", "--no-save"]
            m = alpha_run(flags, root / "explicit", timed=cand["chosen"])
            mark = " (chosen)" if cand["chosen"] else ""
            label = f"candidate {cand['candidate']}{mark}, {cand['best_iteration']} trees"
            lines.append(row(label, m, cand["valid_rank_ic"]))
            if cand["chosen"]:
                timed["no_explain"] = m
                with_shap = [*SPLIT, *cand["flags"].split(), "--no-save"]
                timed["explain"] = alpha_run(with_shap, root / "explicit", timed=True)
            print(f"candidate {cand['candidate']} done (load {load()})", file=sys.stderr)
        for feature_set in ("seed12", "alpha158"):
            for label in ("raw", "zscore"):
                flags = [*SPLIT, "--feature-set", feature_set, "--label-transform", label,
                         "--model-preset", "fast", "--no-explain", "--no-save"]  # fmt: skip
                m = alpha_run(flags, root / "grid")
                lines.append(row(f"{feature_set}, {label} label, fast preset", m,
                                 m.get("valid_rank_ic")))  # fmt: skip
                print(f"grid {feature_set}/{label} done (load {load()})", file=sys.stderr)
        if args.issue_command:
            flags = [*ISSUE, "--feature-set", "alpha158", "--select", "valid", "--no-explain"]
            m = alpha_run(flags, root / "issue")
            lines.append(row("issue command (train to 06-15, default window)", m,
                             m["valid_rank_ic"]))  # fmt: skip
    print("\n".join(lines))
    print(f"\nbar: Qlib Alpha158 + LightGBM test rank IC {QLIB_RANK_IC}")
    print("\ncandidate table of the --select valid run (validation only):")
    cols = ["candidate", "best_iteration", "valid_rank_ic", "valid_tied_days", "refused",
            "chosen", "seconds"]  # fmt: skip
    with pl.Config(tbl_rows=20, tbl_width_chars=200):
        print(table.select(cols))
    print(f"\nchosen flags: {chosen['flags']}")
    print_timed(timed)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
