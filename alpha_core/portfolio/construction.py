"""Optimised books: one cost-aware optimisation a day, from the previous day's book.

``construction = "optimizer"`` turns each date's predictions into expected returns
(Grinold and Kahn: ``alpha = IC x volatility x cross-sectional z-score``, the IC measured on
the validation window) and solves :class:`~alpha_core.portfolio.optimizer.Optimizer` on
that date's risk snapshot, trading from the book held the day before (:func:`step`). The
backtest runs :func:`optimizer_books` over its test dates; the desk restores the book held
(the run's own book, or the ledger's) and runs the same :func:`step` for one day, so it
trades what was backtested.

The market data both need (:func:`market_data`) is read from the panel with bars up to each
date only: the risk model (:func:`~alpha_core.portfolio.risk.estimate_risk`), each name's
average daily traded value (``close x volume`` over :data:`ADV_BARS` bars) and its
volatility (the risk model's forecast). The optimiser is compiled over the run's whole
universe (``Market.universe``: every asset the run predicted), so the desk and the backtest
solve the same problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from alpha_core.features.transforms import percentile_rank
from alpha_core.portfolio.optimizer import Optimizer, alpha_from_scores
from alpha_core.portfolio.risk import RiskModel, RiskSnapshot, estimate_risk
from alpha_core.portfolio.settings import PortfolioSettings
from alpha_core.portfolio.sizing import RANK
from alpha_core.signals.predictions import PREDICTION

ADV_BARS = 20
"""Bars of the average daily traded value (participation and impact)."""
EPSILON = 1e-10
"""Weights below this are no position (solver noise)."""


@dataclass(frozen=True)
class Market:
    """What the optimiser reads besides the predictions, all known at each decision date."""

    risk: RiskModel
    adv: pl.DataFrame
    """``date, asset, adv``: mean ``close x volume`` over the last :data:`ADV_BARS` bars."""
    ic: float
    """Information coefficient of the forecasts (validation mean daily rank IC)."""
    universe: tuple[str, ...]
    periods: int


def average_traded_value(panel: pl.DataFrame) -> pl.DataFrame:
    """``date, asset, adv`` from bars up to each date (NaN without a volume column)."""
    if "volume" not in panel.columns:
        return panel.select("date", "asset", pl.lit(float("nan")).alias("adv"))
    value = (pl.col("close") * pl.col("volume")).cast(pl.Float64)
    return (
        panel.sort("asset", "date")
        .select(
            "date",
            "asset",
            value.rolling_mean(ADV_BARS, min_samples=1).over("asset").alias("adv"),
        )
        .sort("date", "asset")
    )


def market_data(
    panel: pl.DataFrame,
    settings: PortfolioSettings,
    ic: float,
    universe: tuple[str, ...],
    periods: int,
) -> Market:
    """The risk model and traded values of ``panel`` for an optimised run."""
    return Market(
        estimate_risk(panel, settings), average_traded_value(panel), ic, universe, periods
    )


def make_optimizer(settings: PortfolioSettings, market: Market) -> Optimizer:
    """The run's optimiser, compiled over its universe (the same for backtest and desk)."""
    return Optimizer(settings, settings, periods=market.periods, universe=market.universe)


def step(
    optimizer: Optimizer,
    market: Market,
    day: date,
    today: pl.DataFrame,
    held: Mapping[str, float],
) -> tuple[dict[str, float], dict[str, Any]]:
    """One decision: the book for ``day`` from its predictions (``asset, prediction`` and the
    names' traded values ``adv``) and the book ``held``; ``({asset: weight}, facts)``. No
    risk snapshot yet: no book (cash)."""
    try:
        snapshot = market.risk.at(day)
    except (ValueError, KeyError) as exc:
        return {}, {"status": f"no risk model: {exc}"}
    scores = dict(zip(today["asset"].to_list(), today[PREDICTION].to_list(), strict=True))
    rows = [i for i, a in enumerate(snapshot.assets) if a in scores and a in optimizer.index]
    sub = _subset(snapshot, rows)
    names = sub.assets
    vol = np.sqrt(np.maximum(_name_variances(sub), 0.0))
    alpha = alpha_from_scores(np.array([scores[a] for a in names], float), market.ic, vol)
    prev = np.array([held.get(a, 0.0) for a in names])
    traded = dict(zip(today["asset"].to_list(), today["adv"].to_list(), strict=True))
    adv = np.array([traded[a] for a in names], dtype=float)
    solution = optimizer.solve(sub, alpha, prev, vol, adv)
    weights = {a: float(w) for a, w in zip(names, solution.weights, strict=True)}
    book = {a: w for a, w in weights.items() if abs(w) > EPSILON}
    facts = {"status": solution.status, "risk_aversion": solution.risk_aversion}
    return book, facts


def optimizer_books(
    preds: pl.DataFrame,
    settings: PortfolioSettings,
    market: Market,
    held: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Books of every date of ``preds``, each solved from the book before it (``held``
    before the first: cash by default); ``(books, summary)`` like the rank books'."""
    optimizer = make_optimizer(settings, market)
    book: Mapping[str, float] = dict(held or {})
    statuses: list[str] = []
    held_rows: dict[str, list[Any]] = {"date": [], "asset": [], "weight": []}
    days = preds.sort("date").join(market.adv, on=["date", "asset"], how="left")
    for (day,), today in days.group_by("date", maintain_order=True):
        book, facts = step(optimizer, market, day, today, book)
        statuses.append(facts["status"])
        held_rows["date"] += [day] * len(book)
        held_rows["asset"] += list(book)
        held_rows["weight"] += list(book.values())
    books = books_from_weights(pl.DataFrame(held_rows, schema=WEIGHTS_SCHEMA), preds)
    summary = {
        "optimizer_days": len(statuses),
        "optimizer_fallback_days": sum(s.startswith("fallback") for s in statuses),
        "optimizer_no_risk_days": sum(s.startswith("no risk") for s in statuses),
        "capped_days": 0,
        "capped_days_share": 0.0,
        "capped_positions_mean": 0.0,
        "limit_infeasible_days": 0,
    }
    return books, summary


OPTIMIZER_COUNTS = ("optimizer_days", "optimizer_fallback_days", "optimizer_no_risk_days")
"""The optimiser's day counts in a run's metrics (0 for rank books)."""

BOOK_SCHEMA = {
    "date": pl.Date,
    "asset": pl.Utf8,
    "side": pl.Utf8,
    "weight": pl.Float64,
    PREDICTION: pl.Float64,
    RANK: pl.Float64,
    "capped": pl.Boolean,
}


WEIGHTS_SCHEMA = {"date": pl.Date, "asset": pl.Utf8, "weight": pl.Float64}


def books_from_weights(weights: pl.DataFrame, preds: pl.DataFrame) -> pl.DataFrame:
    """Book rows (``date, asset, side, weight, prediction, rank, capped`` plus the
    predictions' other columns) of ``date, asset, weight``, largest weight first on each
    side of each date; ``rank`` is the prediction's percentile among that date's names."""
    ranked = preds.with_columns(percentile_rank(pl.col(PREDICTION), over=["date"]).alias(RANK))
    side = pl.when(pl.col("weight") > 0).then(pl.lit("long")).otherwise(pl.lit("short"))
    extra = [c for c in ranked.columns if c not in BOOK_SCHEMA and not c.startswith("fwd_ret_")]
    out = weights.join(ranked, on=["date", "asset"], how="left").with_columns(
        side.alias("side"), pl.lit(False).alias("capped")
    )
    return out.select(*BOOK_SCHEMA, *extra).sort(
        "date", "side", "weight", descending=[False, False, True]
    )


def held_on(books: pl.DataFrame, day: date) -> dict[str, float]:
    """``{asset: weight}`` of the last book strictly before ``day`` (the book held)."""
    before = books.filter(pl.col("date") < day)
    if before.height == 0:
        return {}
    last = before.filter(pl.col("date") == before["date"].max())
    return dict(zip(last["asset"].to_list(), last["weight"].to_list(), strict=True))


def _subset(snapshot: RiskSnapshot, rows: list[int]) -> RiskSnapshot:
    return replace(
        snapshot,
        assets=tuple(snapshot.assets[i] for i in rows),
        exposures=snapshot.exposures[rows],
        specific_var=snapshot.specific_var[rows],
    )


def _name_variances(risk: RiskSnapshot) -> np.ndarray:
    """Each name's forecast variance: ``diag(X F X') + D``."""
    x = risk.exposures
    return np.einsum("nk,kl,nl->n", x, risk.factor_cov, x) + risk.specific_var
