"""Factor returns by daily cross-sectional WLS, and EWMA factor and specific risk.

The regression realised on day t explains the return from t-1 to t by the exposures at
t-1 (weights sqrt of average dollar volume); its coefficients are the factor returns of
day t and its residuals the specific returns. Group factors are identified by the
constraint that their regression-weighted sum is 0, so the market factor is the weighted
market and each group factor its excess over it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from alpha_core.portfolio.risk.arrays import decay, ewm_mean, ewm_sum
from alpha_core.portfolio.risk.exposures import Exposures
from alpha_core.portfolio.risk.settings import RiskSettings


@dataclass(frozen=True)
class FactorFit:
    """Daily regression output, indexed by the day the return is realised."""

    factor_returns: np.ndarray
    """(T, k): NaN on days without a regression (the first, or too few names)."""
    specific_returns: np.ndarray
    """(T, N): NaN for names outside that day's regression."""
    n_names: np.ndarray
    """(T,) names in each day's regression."""
    noise: np.ndarray
    """(T, k, k) each day's estimation-error covariance of its factor returns
    (heteroskedasticity-robust sandwich from the day's squared residuals; 0 without one)."""


def regress(exp: Exposures, returns: np.ndarray, s: RiskSettings) -> FactorFit:
    """All days' constrained WLS regressions in one batched solve."""
    T, N, k = exp.values.shape
    X = exp.values[:-1]
    r = returns[1:]
    use = exp.covered[:-1] & np.isfinite(r)
    n = use.sum(axis=1)
    run = n >= max(s.risk_min_regression_assets, k + 1)
    Xw = X * np.where(use, exp.weight[:-1], 0.0)[..., None]
    gram = Xw.transpose(0, 2, 1) @ X
    moment = (Xw.transpose(0, 2, 1) @ np.where(use, r, 0.0)[..., None])[..., 0]
    M, rhs = _system(gram, moment, exp.n_groups, run)
    f = _solve(M, rhs)[:, :k]
    f[~run] = np.nan
    specific = np.where(use & run[:, None], r - np.einsum("tnk,tk->tn", X, f), np.nan)
    noise = _estimation_noise(M, Xw, np.nan_to_num(specific), k)
    noise[~run] = 0.0
    pad = np.full((1, k), np.nan)
    return FactorFit(
        np.vstack([pad, f]),
        np.vstack([np.full((1, N), np.nan), specific]),
        np.concatenate([[0], n * run]),
        np.concatenate([np.zeros((1, k, k)), noise]),
    )


def _estimation_noise(M: np.ndarray, Xw: np.ndarray, u: np.ndarray, k: int) -> np.ndarray:
    """P X'W diag(u^2) W X P' with P the factor block of the bordered system's inverse:
    how much of a day's factor return is specific noise that leaked into it."""
    P = np.linalg.pinv(M)[:, :k, :k]
    meat = (Xw * (u**2)[..., None]).transpose(0, 2, 1) @ Xw
    return P @ meat @ P.transpose(0, 2, 1)


def _system(
    gram: np.ndarray, moment: np.ndarray, n_groups: int, run: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations bordered by the group constraint (KKT form); a factor nobody is
    exposed to gets return 0, a day that does not run the identity."""
    T, k, _ = gram.shape
    m = k + (n_groups > 0)
    M = np.zeros((T, m, m))
    M[:, :k, :k] = gram
    rhs = np.zeros((T, m))
    rhs[:, :k] = moment
    idle = np.einsum("tkk->tk", gram) <= 0
    M[:, np.arange(k), np.arange(k)] += idle
    if n_groups:
        sizes = gram[:, 0, 1 : 1 + n_groups]
        M[:, k, 1 : 1 + n_groups] = sizes
        M[:, 1 : 1 + n_groups, k] = sizes
        M[:, k, k] = sizes.sum(axis=1) <= 0
    M[~run] = np.eye(m)
    rhs[~run] = 0.0
    return M, rhs


def _solve(M: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched solve; a singular day (collinear exposures) falls back to least squares."""
    try:
        return np.linalg.solve(M, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(M, rhs, strict=True)])


def factor_covariance(
    factor_returns: np.ndarray, halflife: float, noise: np.ndarray | None = None
) -> np.ndarray:
    """(T, k, k) zero-mean EWMA covariance of the factor returns realised up to each day
    (days without a regression carry no weight; NaN before the first one).

    With ``noise``, the same EWMA of the days' estimation-error covariances is subtracted
    and negative eigenvalues are set to 0: the estimated factor returns' variance is the
    true factor variance plus the regression's noise, which specific variance already
    counts (without this, books with large style exposures are over-forecast).
    """
    T, k = factor_returns.shape
    seen = np.isfinite(factor_returns[:, 0])
    f = np.where(seen[:, None], factor_returns, 0.0)
    outer = (f[:, :, None] * f[:, None, :]).reshape(T, k * k)
    weight = ewm_sum(seen.astype(float), halflife)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = ewm_sum(outer, halflife) / weight[:, None]
    cov = np.where(weight[:, None] > 0, cov, np.nan).reshape(T, k, k)
    if noise is None:
        return cov
    with np.errstate(invalid="ignore", divide="ignore"):
        leak = ewm_sum(noise.reshape(T, k * k), halflife).reshape(T, k, k) / weight[:, None, None]
    return _clip_negative(cov - leak)


def _clip_negative(cov: np.ndarray) -> np.ndarray:
    """Each finite matrix with its negative eigenvalues set to 0 (NaN rows kept)."""
    out = cov.copy()
    ok = np.isfinite(cov).all(axis=(1, 2))
    values, vectors = np.linalg.eigh(cov[ok])
    out[ok] = (vectors * np.maximum(values, 0.0)[:, None, :]) @ vectors.transpose(0, 2, 1)
    return out


def specific_variance(specific_returns: np.ndarray, exp: Exposures, s: RiskSettings) -> np.ndarray:
    """(T, N) EWMA mean square specific return, shrunk toward a structural prior.

    The prior is the name's own total variance times the day's median ratio of specific to
    total variance among well-observed names; it carries ``risk_specific_prior_obs``
    observations' weight, so a name with a short history leans on it and a name with a
    long one hardly does. NaN outside ``covered``.
    """
    own, weight = ewm_mean(specific_returns**2, s.risk_specific_halflife)
    full = 1.0 / (1.0 - decay(s.risk_specific_halflife))
    ratio = np.where(exp.covered & (weight > 0), own / exp.total_var, np.nan)
    share = _row_median(np.where(weight >= 0.5 * full, ratio, np.nan))
    share = np.where(np.isfinite(share), share, _row_median(ratio))
    prior = share[:, None] * exp.total_var
    n0 = s.risk_specific_prior_obs
    with np.errstate(invalid="ignore", divide="ignore"):
        blended = (np.where(weight > 0, weight * own, 0.0) + n0 * prior) / (weight + n0)
    blended = np.where(np.isfinite(blended), blended, own)
    return np.where(exp.covered, np.maximum(blended, 1e-12), np.nan)


def _row_median(x: np.ndarray) -> np.ndarray:
    """Median of each row's finite values (NaN for an empty row, without a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(x, axis=1)


REGIME_Z_CAP = 5.0
"""A return counts at most this many forecast standard deviations in the regime statistic
(one crash day must not multiply risk for months)."""
MIN_FORECAST_VAR = 1e-12
"""Forecast variances below this (a factor the noise correction zeroed) are left out."""


def regime_multiplier(
    realised: np.ndarray,
    forecast_var: np.ndarray,
    halflife: float,
    weights: np.ndarray | None,
    noise_var: np.ndarray | None = None,
) -> np.ndarray:
    """(T,) volatility-regime adjustment: the EWMA over days of the cross-sectional mean
    square of ``realised[t] / sqrt(forecast_var[t - 1])`` (the bias statistic of each day's
    returns against the forecast made the day before), 1 before any such day.

    Multiplying the forecast variances of day t by it makes them track a change of regime
    faster than their own half-lives (Barra USE4's volatility regime adjustment). Day t's
    value uses returns realised up to t and forecasts made up to t - 1 only. ``noise_var``:
    the variance of each realised value's own estimation error (a factor return estimated
    by the day's regression), added to the forecast it is judged against.
    """
    prior = np.full_like(forecast_var, np.nan)
    prior[1:] = forecast_var[:-1]
    if noise_var is not None:
        prior = prior + noise_var
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = np.minimum(realised**2 / prior, REGIME_Z_CAP**2)
    ok = np.isfinite(z2) & (prior > MIN_FORECAST_VAR)
    w = np.where(ok, 1.0 if weights is None else np.nan_to_num(weights), 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = np.where(total > 0, (np.where(ok, z2, 0.0) * w).sum(axis=1) / total, np.nan)
    mean, _ = ewm_mean(daily, halflife)
    return np.where(np.isfinite(mean), mean, 1.0)
