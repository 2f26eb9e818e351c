"""Bias statistics: how well forecast volatility matches realised returns out of sample.

For a portfolio held from t to t+1, z_t = realised return / forecast volatility at t; the
bias statistic is the standard deviation of z over a window. Near 1 the forecast is right;
above, risk is under-forecast; below, over-forecast. With T independent days, sampling alone
spreads it by about 1/sqrt(2T) around 1. Test portfolios follow vendors' practice: random
long-short books, a top-minus-bottom quintile book of a simple signal, and single names.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from alpha_core.portfolio.risk.arrays import rolling_sum
from alpha_core.portfolio.risk.model import RiskModel

BAND = (0.8, 1.2)
LOOKBACKS = (5, 20, 60)
"""Days of the past-return signals whose top-minus-bottom quintile books are tested."""


def bias_statistic(z: np.ndarray) -> float:
    """Standard deviation of the finite z-scores (NaN with fewer than two)."""
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    return float(np.std(z, ddof=1)) if len(z) > 1 else float("nan")


def next_day_return(model: RiskModel, weights: np.ndarray) -> np.ndarray:
    """(T,) return from t to t+1 of the weights held at t (a name without a bar at t+1
    contributes 0; NaN on the last date)."""
    nxt = np.vstack([model.returns[1:], np.full((1, len(model.assets)), np.nan)])
    out = np.nansum(np.where(model.covered, weights, 0.0) * nxt, axis=1)
    out[-1] = np.nan
    return out


def portfolio_z(model: RiskModel, weights: np.ndarray) -> np.ndarray:
    """(T,) realised t -> t+1 return over forecast volatility at t (NaN where unknown)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return next_day_return(model, weights) / np.sqrt(model.predicted_variance(weights))


def single_name_z(model: RiskModel) -> np.ndarray:
    """(T, N) each name's t -> t+1 return over its own forecast volatility at t."""
    cov = np.nan_to_num(model.factor_cov)
    X = model.exposures
    var = np.einsum("tnk,tkl,tnl->tn", X, cov, X) + model.specific_var
    nxt = np.vstack([model.returns[1:], np.full((1, len(model.assets)), np.nan)])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = nxt / np.sqrt(var)
    return np.where(model.covered & model.ready[:, None], z, np.nan)


def random_weights(model: RiskModel, seed: int) -> np.ndarray:
    """A fixed random long-short book: one normal draw per name, restricted each day to the
    names with a risk row, made dollar-neutral and scaled to gross 1."""
    draw = np.random.default_rng(seed).normal(size=len(model.assets))
    return _neutral_unit_gross(np.where(model.covered, draw[None, :], np.nan))


def momentum_signal(model: RiskModel, days: int = 20) -> np.ndarray:
    """(T, N) sum of log returns over the last ``days`` days (bars up to t)."""
    total, count = rolling_sum(np.log1p(model.returns), days)
    return np.where(count >= days / 2, total, np.nan)


def quintile_weights(model: RiskModel, signal: np.ndarray, share: float = 0.2) -> np.ndarray:
    """Equal-weight top ``share`` long, bottom ``share`` short (each side gross 0.5) among
    the names with a risk row and a signal."""
    use = model.covered & np.isfinite(signal)
    ranks = np.where(use, signal, np.inf).argsort(axis=1).argsort(axis=1)
    n = use.sum(axis=1, keepdims=True)
    cut = np.floor(n * share)
    long = use & (ranks >= n - cut)
    short = use & (ranks < cut)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = 0.5 * long / long.sum(axis=1, keepdims=True)
        w = w - 0.5 * short / short.sum(axis=1, keepdims=True)
    return np.nan_to_num(w)


def _neutral_unit_gross(x: np.ndarray) -> np.ndarray:
    """Demean each row over its finite values and scale to absolute sum 1 (NaN -> 0)."""
    seen = np.isfinite(x)
    v = np.where(seen, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = np.where(
            seen, v - v.sum(axis=1, keepdims=True) / seen.sum(axis=1, keepdims=True), 0.0
        )
        w = centred / np.abs(centred).sum(axis=1, keepdims=True)
    return np.nan_to_num(w)


def window_mask(
    model: RiskModel, start: dt.date | str | None = None, end: dt.date | str | None = None
) -> np.ndarray:
    """(T,) forecast dates inside [start, end] on which the model is ready."""
    keep = model.ready.copy()
    if start is not None:
        keep &= model.dates >= np.datetime64(start, "D")
    if end is not None:
        keep &= model.dates <= np.datetime64(end, "D")
    return keep


def bias_report(
    model: RiskModel,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    n_random: int = 100,
    seed: int = 0,
    min_days: int = 60,
) -> dict[str, float | int]:
    """Bias statistics of the test portfolios over forecast dates in [start, end]: the
    median over ``n_random`` random books and its share in :data:`BAND`, each
    :data:`LOOKBACKS` quintile book, and the median over names with ``min_days`` forecasts."""
    keep = window_mask(model, start, end)
    random_b = np.array(
        [
            bias_statistic(portfolio_z(model, random_weights(model, seed + i))[keep])
            for i in range(n_random)
        ]
    )
    spreads = {
        f"momentum{d}_quintile": bias_statistic(
            portfolio_z(model, quintile_weights(model, momentum_signal(model, d)))[keep]
        )
        for d in LOOKBACKS
    }
    names = single_name_z(model)[keep]
    enough = np.isfinite(names).sum(axis=0) >= min_days
    name_b = np.array([bias_statistic(names[:, j]) for j in np.flatnonzero(enough)])
    return {
        "days": int(keep.sum()),
        "random_median": float(np.median(random_b)),
        "random_in_band": _in_band(random_b),
        **spreads,
        "single_name_median": float(np.median(name_b)) if len(name_b) else float("nan"),
        "single_name_in_band": _in_band(name_b),
        "single_names": int(len(name_b)),
    }


def _in_band(b: np.ndarray) -> float:
    """Share of bias statistics inside :data:`BAND`."""
    return float(np.mean((b >= BAND[0]) & (b <= BAND[1]))) if len(b) else float("nan")
