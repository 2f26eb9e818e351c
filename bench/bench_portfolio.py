"""S&P 500: from signal to money. The optimised books against rank books and Qlib's TopkDropout.

All on the split of DEVELOPERS.md (train 2013-03-01 .. 2016-06-15, its last six months the
validation window; test 2016-07-01 .. 2018-01-31; next-day close-to-close label; bad bars
dropped; 5 bps a unit traded):

1. ``alpha run --feature-set alpha158 --select valid --construction optimizer --cost-bps 5``
   (one process, timed): the model and then the optimiser's trade aversion were chosen on the
   validation window (the simplest variant within one standard error of the best validation
   net Sharpe). Test net Sharpe with its 95% interval, break-even cost, turnover, and the
   attribution of its P&L.
2. Every optimiser variant's validation row (from the run's record) and then, after the
   choice, its test row: the saved test predictions solved again with that trade aversion.
3. The same predictions as rank books: every turnover variant of ``select valid`` rebooked
   on the test window at 5 bps; the best test net Sharpe among them (hindsight, so the
   comparison favours the rank books).
4. CPU of the stages on these data, in this process (``time.process_time``): the risk model
   over the whole panel, and the optimiser's books for the whole test window.
5. With ``--qlib-python PY`` (a virtualenv with pyqlib 0.9.7): Qlib's Alpha158 + LightGBM
   workflow and its TopkDropout backtest (top 50, drop 5) at the same 5 bps each way, its
   information ratio of the excess return after costs, in the same run.

Run: ``python bench/bench_portfolio.py [--qlib-python /tmp/qlibenv/bin/python]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

from _qlib_data import run_qlib_workflow  # noqa: E402
from bench_sp500_alpha158 import DATA, ISSUE, alpha_run, load  # noqa: E402

from alpha_core.data.panel import load_panel  # noqa: E402
from alpha_core.portfolio.construction import market_data, optimizer_books  # noqa: E402
from alpha_core.portfolio.risk import estimate_risk  # noqa: E402
from alpha_core.research.contract import apply_bad_bar_policy  # noqa: E402
from alpha_core.research.pipeline import rebook  # noqa: E402
from alpha_core.research.selection import BOOK_CANDIDATES, OPTIMIZER_CANDIDATES  # noqa: E402
from alpha_core.runs.registry import load_run  # noqa: E402

COMMAND = ["--feature-set", "alpha158", "--select", "valid", "--construction", "optimizer"]


def fmt(x: object, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def sharpe_row(name: str, m: dict) -> str:
    return (
        f"| {name} | {fmt(m.get('sharpe'))} | {fmt(m.get('sharpe_net'))} "
        f"[{fmt(m.get('sharpe_net_ci_low'))}, {fmt(m.get('sharpe_net_ci_high'))}] | "
        f"{fmt(m.get('break_even_bps'), 1)} | {fmt(m.get('turnover_mean'), 3)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qlib-python", default=None)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: this bench needs the S&P 500 file")
    print(f"load at start: {load()} (2 cores)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        m = alpha_run([*ISSUE, *COMMAND, "--no-explain"], root, timed=True)
        (folder,) = root.iterdir()
        result = load_run(folder.name, root)
    rows = ["| books | gross Sharpe | net Sharpe [95%] | break-even bps | turnover/day |"]
    rows += ["|---|---|---|---|---|", sharpe_row("optimiser (chosen on validation)", m)]
    print(f"\n1. the command: CPU {m['_cpu']:.1f} s, wall {m['_wall']:.1f} s; test rank IC "
          f"{m['rank_ic_mean']:.4f}; validation IC {m['valid_rank_ic']:.4f}; chosen: "
          f"{m['chosen_candidate']} / {m['chosen_books']}")  # fmt: skip
    parts = ("market", "sector", "style", "specific", "cost")
    attr = ", ".join(f"{k} {m.get(f'attr_{k}_annual', float('nan')):+.2%}" for k in parts)
    print(f"   attribution (annual): {attr}; predicted vol {m['predicted_vol_annual']:.2%}, "
          f"realised {m['realised_vol_annual']:.2%}")  # fmt: skip

    decay = {k.removeprefix("ic_decay_"): v for k, v in m.items() if k.startswith("ic_decay_")}
    print("   why the edge is thin: test rank IC of the scores against the h-day forward return "
          + ", ".join(f"h={h}: {v:.4f}" for h, v in decay.items()))  # fmt: skip

    panel = apply_bad_bar_policy("drop", load_panel(str(DATA)))[0]
    t0 = time.process_time()
    risk = estimate_risk(panel, result.config)
    risk_cpu = time.process_time() - t0
    universe = tuple(result.predictions["asset"].unique().sort().to_list())
    market = replace(
        market_data(panel, result.config, m["valid_rank_ic"], universe, 252), risk=risk
    )
    meta = result.model.meta
    print("\n2. optimiser variants: validation (chose) | test (after the choice)")
    print(
        "| variant | valid net Sharpe | valid turnover | chosen | test net Sharpe | test turnover |"
    )
    print("|---|---|---|---|---|---|")
    solve_cpu = None
    for cand, valid in zip(OPTIMIZER_CANDIDATES, meta["book_candidates"], strict=True):
        config = result.config.replace(**dict(cand.settings))
        t0 = time.process_time()
        books, _ = optimizer_books(result.predictions, config, market)
        cpu = time.process_time() - t0
        solve_cpu = cpu if valid["chosen"] else solve_cpu
        test = rebook_books(result, config, books)
        print(f"| {cand.name} | {fmt(valid['valid_net_sharpe'])} | "
              f"{fmt(valid['valid_turnover'], 3)} | "
              f"{'yes' if valid['chosen'] else ''} | {fmt(test['sharpe_net'])} | "
              f"{fmt(test['turnover_mean'], 3)} |")  # fmt: skip

    print("\n3. the same predictions as rank books at 5 bps (test window)")
    best = None
    for cand in BOOK_CANDIDATES:
        config = result.config.replace(
            construction="rank", trade_aversion=1.0, **dict(cand.settings)
        )
        _, _, rm = rebook(result.predictions, config, meta)
        best = rm if best is None or rm["sharpe_net"] > best["sharpe_net"] else best
        print(sharpe_row(f"rank books, {cand.name}", rm))
    rows.append(sharpe_row("best rank books (hindsight on the test window)", best))

    if args.qlib_python:
        q = run_qlib_workflow(args.qlib_python, load_panel(str(DATA)), cost_bps=5.0)
        rows.append(
            f"| Qlib TopkDropout (top 50, drop 5; excess over the equal-weight market) | "
            f"{fmt(q['topk_ir_without_cost'])} | {fmt(q['topk_ir_with_cost'])} | | "
            f"{fmt(q['topk_turnover_mean'], 3)} |"
        )
        print(f"\n5. Qlib: CPU {q['cpu']:.1f} s, rank IC {q['rank_ic_mean']:.4f}")

    print(f"\n4. CPU: risk model over the whole panel {risk_cpu:.2f} s; optimiser books of the "
          f"whole test window ({result.daily.height} days x {len(universe)} assets) "
          f"{solve_cpu:.2f} s")  # fmt: skip
    print(f"load at end: {load()}\n")
    print("\n".join(rows))


def rebook_books(result, config, books: pl.DataFrame) -> dict:  # noqa: ANN001
    """Metrics of given books (the backtest's P&L and costs of the saved predictions)."""
    from alpha_core.evaluation.metrics import compute_metrics
    from alpha_core.portfolio.backtest import add_costs, daily_returns

    preds = result.predictions
    daily = add_costs(daily_returns(books, preds), books, preds["date"], config.cost_bps, 0.0)
    return compute_metrics(daily, preds, result.model.meta, books=books, periods=252)


if __name__ == "__main__":
    main()
