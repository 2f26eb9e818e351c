"""The risk model over a whole panel (:func:`estimate_risk`) and one date's view of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from alpha_core.portfolio.risk.arrays import simple_returns, to_bars
from alpha_core.portfolio.risk.estimate import (
    factor_covariance,
    regime_multiplier,
    regress,
    specific_variance,
)
from alpha_core.portfolio.risk.exposures import build_exposures
from alpha_core.portfolio.risk.settings import RiskSettings
from alpha_core.portfolio.risk.statistical import add_statistical


@dataclass(frozen=True)
class RiskSnapshot:
    """The risk forecast for the day after ``date``: names with a risk row that day.

    Covariance of returns = X F X' + diag(D), daily units.
    """

    date: dt.date
    assets: tuple[str, ...]
    factors: tuple[str, ...]
    exposures: np.ndarray
    """(n, k)."""
    factor_cov: np.ndarray
    """(k, k)."""
    specific_var: np.ndarray
    """(n,)."""

    def cov(self) -> np.ndarray:
        """The full (n, n) covariance matrix."""
        X = self.exposures
        return X @ self.factor_cov @ X.T + np.diag(self.specific_var)

    def variance(self, weights: np.ndarray) -> float | np.ndarray:
        """w' X F X' w + w' D w without forming n x n; ``weights`` (n,) or (n, m) columns."""
        w = np.asarray(weights, dtype=float)
        exposure = self.exposures.T @ w
        factor = np.einsum("k...,kl,l...->...", exposure, self.factor_cov, exposure)
        out = factor + np.einsum("n...,n->...", w**2, self.specific_var)
        return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class RiskModel:
    """Every date's exposures, factor returns, factor covariance and specific variances.

    Row t of ``exposures``/``covered`` uses bars up to t; ``factor_returns``/``specific
    returns`` row t is the regression of the t-1 -> t return on exposures at t-1;
    ``factor_cov``/``specific_var`` row t uses factor and specific returns up to t, so a
    snapshot at t forecasts the return from t to t+1. ``ready`` marks dates with at least
    ``risk_min_factor_days`` factor returns behind them.
    """

    settings: RiskSettings
    dates: np.ndarray
    assets: tuple[str, ...]
    factors: tuple[str, ...]
    exposures: np.ndarray
    covered: np.ndarray
    weights: np.ndarray
    returns: np.ndarray
    factor_returns: np.ndarray
    specific_returns: np.ndarray
    factor_cov: np.ndarray
    specific_var: np.ndarray
    ready: np.ndarray

    def index(self, day: dt.date | str | np.datetime64) -> int:
        """Row of the last model date on or before ``day``."""
        i = int(np.searchsorted(self.dates, np.datetime64(day, "D"), side="right")) - 1
        if i < 0:
            raise KeyError(f"no risk model date on or before {day}")
        return i

    def at(self, day: dt.date | str | np.datetime64) -> RiskSnapshot:
        """The snapshot of the last date on or before ``day``; ValueError before ``ready``."""
        i = self.index(day)
        if not self.ready[i]:
            raise ValueError(f"risk model not ready on {self.dates[i]} (too few factor returns)")
        rows = np.flatnonzero(self.covered[i])
        return RiskSnapshot(
            date=self.dates[i].astype(dt.date),
            assets=tuple(self.assets[j] for j in rows),
            factors=self.factors,
            exposures=self.exposures[i, rows],
            factor_cov=self.factor_cov[i],
            specific_var=self.specific_var[i, rows],
        )

    def predicted_variance(self, weights: np.ndarray) -> np.ndarray:
        """(T,) forecast variance of date-t weights (T, N) (0 off ``covered``), factor form;
        NaN on dates not ``ready``."""
        w = np.where(self.covered, weights, 0.0)
        exposure = np.einsum("tnk,tn->tk", self.exposures, w)
        factor = np.einsum("tk,tkl,tl->t", exposure, np.nan_to_num(self.factor_cov), exposure)
        specific = (w**2 * np.nan_to_num(self.specific_var)).sum(axis=1)
        return np.where(self.ready, factor + specific, np.nan)

    def factor_returns_table(self) -> pl.DataFrame:
        """``date`` and one column per factor: the return realised on that date."""
        keep = np.isfinite(self.factor_returns[:, 0])
        data = {f: self.factor_returns[keep, j] for j, f in enumerate(self.factors)}
        return pl.DataFrame({"date": self.dates[keep], **data})

    def exposures_table(self) -> pl.DataFrame:
        """``date, asset`` and one column per factor, for every risk row."""
        t, n = np.nonzero(self.covered)
        data = {f: self.exposures[t, n, j] for j, f in enumerate(self.factors)}
        assets = np.array(self.assets, dtype=object)[n]
        return pl.DataFrame({"date": self.dates[t], "asset": assets.tolist(), **data})

    def specific_table(self) -> pl.DataFrame:
        """``date, asset, specific_return, specific_var`` where either is known."""
        known = np.isfinite(self.specific_returns) | np.isfinite(self.specific_var)
        t, n = np.nonzero(known)
        return pl.DataFrame(
            {
                "date": self.dates[t],
                "asset": np.array(self.assets, dtype=object)[n].tolist(),
                "specific_return": self.specific_returns[t, n],
                "specific_var": self.specific_var[t, n],
            }
        )


def estimate_risk(panel: pl.DataFrame, settings: RiskSettings | None = None) -> RiskModel:
    """Estimate the factor risk model over the whole canonical panel in one pass."""
    s = settings or RiskSettings()
    bars = to_bars(panel, s.risk_group)
    returns = simple_returns(bars.close)
    exp = build_exposures(bars, returns, s)
    fit = regress(exp, returns, s)
    if s.risk_statistical_factors and (s.risk_statistical_with_groups or not exp.n_groups):
        exp = add_statistical(exp, fit.specific_returns, bars.dates, s)
        fit = regress(exp, returns, s)
    counted = np.cumsum(np.isfinite(fit.factor_returns[:, 0]))
    factor_cov = factor_covariance(
        fit.factor_returns,
        s.risk_factor_halflife,
        fit.noise if s.risk_noise_correction else None,
    )
    specific_var = specific_variance(fit.specific_returns, exp, s)
    if s.risk_regime_halflife > 0:
        factor_cov, specific_var = _regime_adjusted(fit, exp, factor_cov, specific_var, s)
    return RiskModel(
        settings=s,
        dates=bars.dates,
        assets=bars.assets,
        factors=exp.factors,
        exposures=exp.values,
        covered=exp.covered,
        weights=exp.weight,
        returns=returns,
        factor_returns=fit.factor_returns,
        specific_returns=fit.specific_returns,
        factor_cov=factor_cov,
        specific_var=specific_var,
        ready=counted >= s.risk_min_factor_days,
    )


def _regime_adjusted(
    fit: Any, exp: Any, factor_cov: np.ndarray, specific_var: np.ndarray, s: RiskSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Factor covariances and specific variances scaled by their volatility-regime
    multipliers (:func:`~alpha_core.portfolio.risk.estimate.regime_multiplier`)."""
    factor_var = np.einsum("tkk->tk", factor_cov)
    noise = np.einsum("tkk->tk", fit.noise) if s.risk_noise_correction else None
    f = regime_multiplier(fit.factor_returns, factor_var, s.risk_regime_halflife, None, noise)
    u = regime_multiplier(fit.specific_returns, specific_var, s.risk_regime_halflife, exp.weight)
    return factor_cov * f[:, None, None], specific_var * u[:, None]
