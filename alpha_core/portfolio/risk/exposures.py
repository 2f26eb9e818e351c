"""Factor exposures on each date t from bars up to t: market, groups and seven styles.

Styles (raw, before the cross-sectional winsorised z-score of :func:`arrays.standardise`):

- ``beta``: EWMA regression slope (zero-mean, half-life ``risk_beta_halflife``) of the
  name's daily return on the equal-weight market return of all names with a return that day;
- ``size``: log of the average dollar volume (close x volume) over ``risk_size_window`` days;
- ``momentum``: sum of log returns from t - ``risk_momentum_window`` + 1 to
  t - ``risk_momentum_skip`` (6-1 months by default), at least half the days observed;
- ``reversal``: sum of log returns over the last ``risk_reversal_window`` days (a month);
- ``week_reversal``: the same over ``risk_week_reversal_window`` days (a week): the names
  that just moved most carry a risk of their own that the month's reversal misses;
- ``volatility``: log of the EWMA root mean square daily return (``risk_vol_halflife``);
- ``liquidity``: log Amihud illiquidity (mean of |return| / dollar volume over
  ``risk_liquidity_window`` days), made orthogonal to size each day and z-scored again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alpha_core.portfolio.risk.arrays import (
    Bars,
    ewm_mean,
    ewm_sum,
    lagged,
    rolling_sum,
    standardise,
)
from alpha_core.portfolio.risk.settings import RiskSettings

STYLES = ("beta", "size", "momentum", "reversal", "week_reversal", "volatility", "liquidity")
MARKET = "market"


@dataclass(frozen=True)
class Exposures:
    """Exposures (T, N, k) with 0 outside ``covered``, and what the regression needs."""

    factors: tuple[str, ...]
    values: np.ndarray
    covered: np.ndarray
    """(T, N) bool: the name has a risk row on that date (a bar and enough history)."""
    weight: np.ndarray
    """(T, N) regression weight: sqrt of the average dollar volume; 0 outside ``covered``."""
    total_var: np.ndarray
    """(T, N) EWMA variance of the name's daily return (the specific variance's prior)."""
    scale: np.ndarray
    """(T, N) each name's loading per unit of standardised exposure: its EWMA volatility
    when ``risk_vol_scaled``, else 1 (0 outside ``covered``)."""
    n_groups: int
    """Columns 1 .. n_groups are the group dummies (column 0 is the market)."""


def build_exposures(bars: Bars, returns: np.ndarray, s: RiskSettings) -> Exposures:
    """All exposures at every date, each from rows <= t of the bars only."""
    avg_dv = _average(bars.dollar_volume, s.risk_size_window)
    total_var, _ = ewm_mean(returns**2, s.risk_vol_halflife)
    history = np.cumsum(np.isfinite(returns), axis=0)
    covered = (
        np.isfinite(bars.close) & (history >= s.risk_min_history) & (avg_dv > 0) & (total_var > 0)
    )
    raw = _raw_styles(returns, avg_dv, total_var, bars.dollar_volume, s)
    styles = {name: standardise(raw[name], covered, s.risk_winsor_limit) for name in STYLES}
    styles["liquidity"] = _orthogonal(styles["liquidity"], styles["size"], covered, s)
    groups = [(bars.group == g)[None, :] & covered for g in range(len(bars.group_names))]
    columns = [covered, *groups, *(styles[name] for name in STYLES)]
    values = np.stack([c.astype(float) for c in columns], axis=2)
    names = (MARKET, *(f"{bars.group_column}:{g}" for g in bars.group_names), *STYLES)
    weight = np.where(covered, np.sqrt(np.where(covered, avg_dv, 0.0)), 0.0)
    scale = np.where(covered, np.sqrt(np.where(covered, total_var, 1.0)), 0.0)
    if s.risk_vol_scaled:
        values *= scale[..., None]
        weight = np.where(covered, weight / np.where(covered, total_var, 1.0), 0.0)
    else:
        scale = covered.astype(float)
    return Exposures(names, values, covered, weight, total_var, scale, len(bars.group_names))


def _raw_styles(
    returns: np.ndarray,
    avg_dv: np.ndarray,
    total_var: np.ndarray,
    dollar_volume: np.ndarray,
    s: RiskSettings,
) -> dict[str, np.ndarray]:
    """The seven style descriptors before standardisation (NaN where undefined)."""
    log_ret = np.log1p(returns)
    span = s.risk_momentum_window - s.risk_momentum_skip
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "beta": market_beta(returns, s.risk_beta_halflife),
            "size": np.log(avg_dv),
            "momentum": lagged(_sum_if(log_ret, max(span, 1)), s.risk_momentum_skip),
            "reversal": _sum_if(log_ret, s.risk_reversal_window),
            "week_reversal": _sum_if(log_ret, s.risk_week_reversal_window),
            "volatility": 0.5 * np.log(total_var),
            "liquidity": np.log(_amihud(returns, dollar_volume, s.risk_liquidity_window)),
        }


def market_return(returns: np.ndarray) -> np.ndarray:
    """(T,) equal-weight mean return of the names with a return that day (NaN: none)."""
    seen = np.isfinite(returns)
    n = seen.sum(axis=1)
    total = np.where(seen, returns, 0.0).sum(axis=1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def market_beta(returns: np.ndarray, halflife: float) -> np.ndarray:
    """EWMA zero-mean regression slope of each name's return on the market return, over
    the days the name has a return."""
    m = market_return(returns)[:, None]
    both = np.isfinite(returns) & np.isfinite(m)
    cross = ewm_sum(np.where(both, returns * m, 0.0), halflife)
    market_var = ewm_sum(np.where(both, m * m, 0.0), halflife)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(market_var > 0, cross / market_var, np.nan)


def _average(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over observed values (NaN where none)."""
    total, count = rolling_sum(x, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _sum_if(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing sum, NaN unless at least half of the window is observed."""
    total, count = rolling_sum(x, window)
    return np.where(count >= max(window / 2, 1), total, np.nan)


def _amihud(returns: np.ndarray, dollar_volume: np.ndarray, window: int) -> np.ndarray:
    """Mean of |return| / dollar volume over the window (days with volume only)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dollar_volume > 0, np.abs(returns) / dollar_volume, np.nan)
    average = _average(ratio, window)
    return np.where(average > 0, average, np.nan)


def _orthogonal(
    z: np.ndarray, size: np.ndarray, covered: np.ndarray, s: RiskSettings
) -> np.ndarray:
    """z less its daily cross-sectional projection on size, standardised again (Amihud is
    mostly inverse size; the residual is the liquidity size does not explain)."""
    n = covered.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(n > 1, (z * size).sum(axis=1, keepdims=True) / (n - 1), 0.0)
    residual = np.where(covered, z - slope * size, np.nan)
    return standardise(residual, covered, s.risk_winsor_limit)
