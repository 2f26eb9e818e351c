"""The cost-aware optimiser re-solved day after day: CPU per 400 solves of 500 assets.

A realistic day (500 assets, 20 factors: beta, 11 sectors, 8 styles; daily vols 1-4%,
log-normal dollar volumes, alpha = IC 0.03 x vol x z-score) drifts slowly for 400 days
(exposures, covariances and scores move a little each day); each day's book starts from the
previous one. Cases: Clarabel with the full cost model (half-spread + square-root impact +
borrow), and Clarabel and OSQP (warm start) on the quadratic case both solve (impact off).
Prints CPU seconds (time.process_time) in total and the median per solve, wall seconds, the
load average, fallbacks and the problem builds. Target: 400 x 500 in at most 10 s of CPU.

    python bench/bench_optimizer.py [--days 400] [--assets 500] [--factors 20]

``--sp500``: instead, the run's own path on the S&P 500 file (bad bars dropped): the risk
model over the whole panel, then ``optimizer_books`` (the default optimiser settings, 5 bps)
over the test window 2016-07-01 .. 2018-01-31 on stand-in scores (minus the 5-day return
plus noise, IC 0.01), with the CPU seconds of each (median of ``--repeats``). Target: at
most 10 s for the books and 5 s for the risk model.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np

from alpha_core.portfolio.costs import CostSettings
from alpha_core.portfolio.optimizer import Optimizer, OptimizerSettings, alpha_from_scores


@dataclass(frozen=True)
class Snap:
    assets: tuple[str, ...]
    factors: tuple[str, ...]
    exposures: np.ndarray
    factor_cov: np.ndarray
    specific_var: np.ndarray


def first_day(n: int, k: int, rng: np.random.Generator) -> tuple[Snap, np.ndarray, np.ndarray]:
    """Day 0: the risk snapshot, daily vols and dollar ADVs."""
    sectors, styles = 11, k - 12
    names = (
        "beta",
        *(f"sector:{i}" for i in range(sectors)),
        *(f"style{i}" for i in range(styles)),
    )
    x = np.zeros((n, k))
    x[:, 0] = 1 + 0.3 * rng.normal(size=n)
    x[np.arange(n), 1 + rng.integers(0, sectors, n)] = 1.0
    x[:, 1 + sectors :] = rng.normal(size=(n, styles))
    vols = np.r_[0.012, np.full(sectors, 0.006), np.full(styles, 0.003)]
    corr = 0.2 * np.ones((k, k)) + 0.8 * np.eye(k)
    cov = corr * np.outer(vols, vols)
    spec = (0.01 + 0.015 * rng.random(n)) ** 2
    risk = Snap(tuple(f"A{i:04d}" for i in range(n)), names, x, cov, spec)
    return risk, np.sqrt(np.diag(x @ cov @ x.T) + spec), rng.lognormal(18, 1.2, n)


def drift(risk: Snap, rng: np.random.Generator) -> Snap:
    """The next day's snapshot: styles and specific variances move a little."""
    x = risk.exposures.copy()
    x[:, 12:] += 0.02 * rng.normal(size=x[:, 12:].shape)
    spec = risk.specific_var * np.exp(0.01 * rng.normal(size=risk.specific_var.shape))
    return replace(risk, exposures=x, specific_var=spec)


def run(solver: str, costs: CostSettings, days: int, n: int, k: int) -> dict[str, object]:
    """Solve ``days`` consecutive days; CPU and wall seconds, statuses."""
    rng = np.random.default_rng(0)
    risk, vol, adv = first_day(n, k, rng)
    settings = OptimizerSettings(
        max_weight=0.02, beta_bound=0.05, sector_bound=0.05, participation=0.05
    )
    opt = Optimizer(settings, costs, solver=solver, universe=risk.assets)
    scores, w = rng.normal(size=n), np.zeros(n)
    per: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(days):
        scores = 0.9 * scores + np.sqrt(1 - 0.9**2) * rng.normal(size=n)
        alpha = alpha_from_scores(scores, 0.03, vol)
        c0 = time.process_time()
        w = opt.solve(risk, alpha, w, vol, adv).weights
        per.append(time.process_time() - c0)
        risk = drift(risk, rng)
    return {
        "solver": solver,
        "impact": costs.impact_coef,
        "cpu": time.process_time() - cpu0,
        "median": float(np.median(per[1:])),
        "first": per[0],
        "wall": time.perf_counter() - wall0,
        "fallbacks": opt.stats.fallbacks,
        "builds": opt.stats.builds,
        "gross": float(np.abs(w).sum()),
    }


def sp500(repeats: int) -> None:
    """CPU of the risk model and of the test window's optimised books on the S&P 500 file."""
    import polars as pl

    from alpha_core.data.panel import load_panel
    from alpha_core.portfolio.construction import market_data, optimizer_books
    from alpha_core.research.config import RunConfig
    from alpha_core.research.contract import apply_bad_bar_policy

    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "sp500_5yr.parquet"
    if not data.exists():
        raise SystemExit(f"{data} is absent: --sp500 needs the S&P 500 file")
    panel = apply_bad_bar_policy("drop", load_panel(str(data)))[0]
    noise = np.random.default_rng(0).normal(size=panel.height)
    past = pl.col("close") / pl.col("close").shift(5).over("asset") - 1
    preds = (
        panel.sort("asset", "date")
        .with_columns((0.02 * pl.Series(noise) - past).alias("prediction"))
        .filter(pl.col("date").is_between(date(2016, 7, 1), date(2018, 1, 31)))
        .select("date", "asset", "prediction")
        .drop_nulls()
    )
    config = RunConfig(construction="optimizer", cost_bps=5.0)
    universe = tuple(preds["asset"].unique().sort().to_list())
    days = preds["date"].n_unique()
    print(f"S&P 500: {days} days x {len(universe)} assets; load {os.getloadavg()}")
    risk_cpu, book_cpu = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        market = market_data(panel, config, 0.01, universe, 252)
        c1 = time.process_time()
        _, summary = optimizer_books(preds, config, market)
        risk_cpu.append(c1 - c0)
        book_cpu.append(time.process_time() - c1)
    print(f"risk model CPU {np.median(risk_cpu):.2f} s; optimiser books CPU "
          f"{np.median(book_cpu):.2f} s (median of {repeats}; each {np.round(book_cpu, 2)}); "
          f"fallback days {summary['optimizer_fallback_days']}")  # fmt: skip
    print(f"load after: {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--assets", type=int, default=500)
    ap.add_argument("--factors", type=int, default=20)
    ap.add_argument("--sp500", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.sp500:
        return sp500(a.repeats)
    full = CostSettings(cost_bps=5.0, impact_coef=1.0, borrow_bps=50.0, capital=1e8)
    quad = replace(full, impact_coef=0.0)
    cases = [("CLARABEL", full), ("CLARABEL", quad), ("OSQP", quad)]
    print(f"{a.days} days x {a.assets} assets x {a.factors} factors; load {os.getloadavg()}")
    print(
        "| solver | impact | CPU s total | CPU s median/solve | first solve (build) | wall s "
        "| fallbacks | builds | final gross |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for solver, costs in cases:
        r = run(solver, costs, a.days, a.assets, a.factors)
        print(
            f"| {r['solver']} | {r['impact']} | {r['cpu']:.2f} | {r['median']:.4f} | "
            f"{r['first']:.2f} | {r['wall']:.2f} | {r['fallbacks']} | {r['builds']} | "
            f"{r['gross']:.3f} |"
        )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
