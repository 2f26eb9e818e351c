"""P&L attribution by the risk model: market, sector, style, specific and cost, each day.

The book decided at the close of t earns ``sum_a w_a r_a`` over the label's period. The
risk model explains the close-to-close return from t to t+1 as ``X_t f_{t+1} + u``
(:mod:`alpha_core.portfolio.risk`), so the part of the day's P&L due to factor k is the
book's exposure ``(X_t' w_t)_k`` times that factor's return ``f_{k,t+1}``. Factors are
summed by kind: ``market`` (the market factor and beta), ``sector`` (group dummies) and
``style`` (size, momentum, the reversals, volatility, liquidity). ``specific`` is the rest of the
gross P&L (the names' own returns, the names without a risk row, and any difference between
the label and the close-to-close return), and ``cost`` is minus the day's costs, so
``market + sector + style + specific + cost`` is the net P&L exactly.

Beside it, per day: the book's exposure to each factor and its predicted volatility (the
risk model at t), to set against the realised one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from alpha_core.portfolio.risk import RiskModel

KINDS = ("market", "sector", "style", "specific", "cost")
"""The parts of the net P&L, in the order they are shown."""
GROUP_PREFIXES = ("sector:", "asset_class:", "industry:")
METRIC_KEYS = (
    *(f"attr_{k}_annual" for k in KINDS),
    "predicted_vol_annual",
    "realised_vol_annual",
)
"""The metrics :func:`attribution_metrics` adds (a run's, not a rebook's: they need the
panel's risk model)."""


def factor_kind(factor: str) -> str:
    """``market``, ``sector`` or ``style``."""
    if factor in ("market", "beta"):
        return "market"
    return "sector" if factor.startswith(GROUP_PREFIXES) else "style"


def attribution(books: pl.DataFrame, daily: pl.DataFrame, risk: RiskModel) -> pl.DataFrame:
    """``date`` (the decision date), the :data:`KINDS` contributions, ``net``, the
    book's predicted volatility and its exposure to every factor (``x_<factor>``)."""
    index = {a: i for i, a in enumerate(risk.assets)}
    days = daily["date"].to_list()
    weights = _weights(books, days, index)
    rows = np.searchsorted(risk.dates, np.array(days, dtype="datetime64[D]"), side="right") - 1
    valid = (rows >= 0) & (rows + 1 < risk.dates.size)
    t = np.where(valid, rows, 0)
    covered = risk.covered[t] & valid[:, None]
    exposure = np.einsum("dnk,dn->dk", risk.exposures[t], np.where(covered, weights, 0.0))
    nxt = np.where(valid, t + 1, 0)
    f_next = np.where(valid[:, None], np.nan_to_num(risk.factor_returns[nxt]), 0.0)
    by_factor = exposure * f_next
    kinds = np.array([factor_kind(f) for f in risk.factors])
    gross = daily["long_short"].to_numpy()
    cost = daily["cost"].to_numpy() if "cost" in daily.columns else np.zeros(len(days))
    parts = {k: by_factor[:, kinds == k].sum(axis=1) for k in ("market", "sector", "style")}
    parts["specific"] = gross - parts["market"] - parts["sector"] - parts["style"]
    parts["cost"] = -cost
    predicted = np.sqrt(np.maximum(_predicted_variance(risk, t, weights, covered), 0.0))
    return pl.DataFrame(
        {
            "date": days,
            **parts,
            "net": gross - cost,
            "predicted_vol": np.where(valid & risk.ready[t], predicted, np.nan),
            **{f"x_{f}": exposure[:, j] for j, f in enumerate(risk.factors)},
        }
    )


def attribution_metrics(table: pl.DataFrame, periods: int) -> dict[str, Any]:
    """Annualised contribution of each part, and predicted against realised volatility."""
    out: dict[str, Any] = {
        f"attr_{k}_annual": float(table[k].mean()) * periods if table.height else None
        for k in KINDS
    }
    predicted = table["predicted_vol"].drop_nans().drop_nulls()
    realised = table["net"].std()
    out["predicted_vol_annual"] = (
        float(predicted.mean()) * np.sqrt(periods) if predicted.len() else None
    )
    out["realised_vol_annual"] = float(realised) * np.sqrt(periods) if realised else None
    return out


def _weights(books: pl.DataFrame, days: list[Any], index: dict[str, int]) -> np.ndarray:
    """(days, assets of the risk model) weights of each day's book (0 elsewhere)."""
    out = np.zeros((len(days), len(index)))
    where = {d: i for i, d in enumerate(days)}
    frame = books.select("date", "asset", "weight").filter(pl.col("date").is_in(days))
    for d, a, w in frame.iter_rows():
        j = index.get(a)
        if j is not None:
            out[where[d], j] += w
    return out


def _predicted_variance(
    risk: RiskModel, t: np.ndarray, weights: np.ndarray, covered: np.ndarray
) -> np.ndarray:
    w = np.where(covered, weights, 0.0)
    exposure = np.einsum("dnk,dn->dk", risk.exposures[t], w)
    cov = np.nan_to_num(risk.factor_cov[t])
    factor = np.einsum("dk,dkl,dl->d", exposure, cov, exposure)
    return factor + (w**2 * np.nan_to_num(risk.specific_var[t])).sum(axis=1)
