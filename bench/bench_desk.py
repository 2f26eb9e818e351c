"""Time one daily ``alpha book`` on ~500 assets end to end, beside a full ``alpha run``.

Usage: ``python bench/bench_desk.py [--repeats 5] [--data PATH]``

On the S&P 500 file (505 assets; default ``../shared/data/sp500_5yr.parquet``): trains one
run through 2017-06-30 with ``--model-preset fast`` in a temporary registry (timed: the
full ``alpha run``, whole process), then times ``alpha book --run ID --data PATH --as-of D
--json`` as a whole process (interpreter start, imports, loading the panel and the model,
scoring, the ledger's fsync-ed append) for ``--repeats`` successive decision dates from
2017-07-03 on; beside it, the imports alone (a process that only imports the CLI and
LightGBM, which pulls in scikit-learn, pandas and scipy) and the desk's own work in process.
Budget: 2 s median for the book. Prints one table and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import polars as pl
from _harness import SP500, Timing, fmt_s, header, median, p95, repeat, run_child, table

BUDGET_S = 2.0


def _in_process(root: Path, run_id: str, data: str, days: list) -> Timing:
    """The desk's own work for the same dates, imports done: load, score, record (forced,
    since the children recorded these dates already with the same inputs: a no-op)."""
    from alpha_core.data.panel import load_panel
    from alpha_core.desk.service import DeskService

    service = DeskService(root)
    queue = list(days)

    def one() -> None:
        service.book(run_id, load_panel(data), as_of=queue.pop(0))

    return repeat(one, len(days))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default=str(SP500))
    args = parser.parse_args()
    header("One daily alpha book vs a full alpha run")
    dates = pl.scan_parquet(args.data).select("date").unique().sort("date").collect()["date"]
    days = [d for d in dates.to_list() if str(d) >= "2017-07-03"][: args.repeats]
    with tempfile.TemporaryDirectory() as tmp:
        env = {"ALPHA_LAB_ARTIFACTS": tmp}
        alpha = [sys.executable, "-m", "alpha_core.cli.main"]
        run = run_child([*alpha, "run", "--data", args.data, "--train-start", "2013-02-08",
                         "--train-end", "2017-06-30", "--test-start", "2017-07-03",
                         "--test-end", "2018-02-07", "--model-preset", "fast", "--no-explain",
                         "--on-bad-bars", "drop",
                         "--json"], env=env)  # fmt: skip
        if run["returncode"]:
            raise SystemExit(run["stderr"][-2000:])
        run_id = json.loads(run["stdout"].strip().splitlines()[-1])["run_id"]
        books = []
        for day in days:
            res = run_child([*alpha, "book", "--run", run_id, "--data", args.data,
                             "--as-of", str(day), "--json"], env=env)  # fmt: skip
            if res["returncode"]:
                raise SystemExit(res["stderr"][-2000:])
            books.append(res)
        n_assets = len(json.loads(books[-1]["stdout"].strip().splitlines()[-1])["book"])
        probe = "import alpha_core.cli.main, alpha_core.models.lightgbm.model"
        imports = [run_child([sys.executable, "-c", probe])
                   for _ in range(3)]  # fmt: skip
        inside = _in_process(Path(tmp), run_id, args.data, days)
    walls = [b["wall_s"] for b in books]
    rows = [
        ["alpha book (one date, whole process)", len(walls), fmt_s(median(walls)),
         fmt_s(p95(walls)), fmt_s(median([b["cpu_s"] for b in books])),
         f"{median([b['maxrss_kib'] for b in books]) / 1024:.0f} MiB"],
        [f"  of which: imports alone (python -c '{probe}')",
         len(imports), fmt_s(median([i["wall_s"] for i in imports])), "",
         fmt_s(median([i["cpu_s"] for i in imports])), ""],
        ["  of which: load the panel + DeskService.book + ledger append (in process, warm)",
         len(inside.wall), fmt_s(median(inside.wall)), fmt_s(p95(inside.wall)),
         fmt_s(median(inside.cpu)), ""],
        ["alpha run (train 2013-2017, fast preset)", 1, fmt_s(run["wall_s"]), "",
         fmt_s(run["cpu_s"]), f"{run['maxrss_kib'] / 1024:.0f} MiB"],
    ]  # fmt: skip
    print(table(f"{Path(args.data).name}: book of {n_assets} names a day",
                ("case", "n", "median", "p95", "CPU (median)", "peak RSS"), rows))  # fmt: skip
    verdict = "within" if median(walls) < BUDGET_S else "OVER"
    print(f"\nBudget {BUDGET_S:.0f} s for one book: {verdict} ({fmt_s(median(walls))}).")


if __name__ == "__main__":
    main()
