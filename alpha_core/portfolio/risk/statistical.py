"""Statistical factors: principal components of the names' recent specific returns.

On each recompute date (the first panel date of each calendar month) the specific returns
of the last ``risk_statistical_window`` rows of the model without statistical factors,
each divided by the name's loading scale the day before (its volatility with
``risk_vol_scaled``), form a (window x names) matrix; names observed on at least half of
its rows enter it (missing days count as 0). Its top ``risk_statistical_factors`` right
singular vectors, scaled to unit mean square over those names and signed so that their
sum of cubes is positive, are the standardised exposures ``pca1`` .. ``pcaK``, held until
the next recompute date. Every quantity at row t uses specific returns of rows <= t.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from alpha_core.portfolio.risk.arrays import lagged
from alpha_core.portfolio.risk.exposures import Exposures
from alpha_core.portfolio.risk.settings import RiskSettings


def statistical_names(count: int) -> tuple[str, ...]:
    """``pca1`` .. ``pca<count>``."""
    return tuple(f"pca{j + 1}" for j in range(count))


def recompute_rows(dates: np.ndarray) -> np.ndarray:
    """Rows holding the first panel date of each calendar month."""
    months = dates.astype("datetime64[M]")
    return np.flatnonzero(np.r_[True, months[1:] != months[:-1]])


def standardised_residuals(specific: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Row t's specific return over the name's scale at t-1 (NaN where either is missing)."""
    prev = lagged(scale, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = specific / prev
    return np.where(np.isfinite(e), e, np.nan)


def window_components(e: np.ndarray, count: int, window: int) -> np.ndarray:
    """(N, count) standardised loadings from one window of standardised residuals (W', N):
    0 for names observed on fewer than half of ``window`` rows (all 0 with too few names)."""
    keep = np.isfinite(e).sum(axis=0) >= math.ceil(window / 2)
    out = np.zeros((e.shape[1], count))
    m = int(keep.sum())
    if m <= count or e.shape[0] <= count:
        return out
    v = top_right_vectors(np.nan_to_num(e[:, keep]), count) * math.sqrt(m)
    out[keep] = v * np.where((v**3).sum(axis=0) < 0, -1.0, 1.0)
    return out


def top_right_vectors(E: np.ndarray, count: int) -> np.ndarray:
    """The top ``count`` right singular vectors of E (columns, by descending singular value):
    Lanczos (ARPACK) on the smaller of E E' and E'E applied as matrix-vector products, so no
    threaded matrix-matrix product runs (those cost 10-30x the CPU on a busy machine); a
    null direction gives 0."""
    rows, cols = E.shape
    Et = np.ascontiguousarray(E.T)
    if rows < cols:
        op = LinearOperator((rows, rows), matvec=lambda v: E @ (Et @ v.ravel()), dtype=float)
    else:
        op = LinearOperator((cols, cols), matvec=lambda v: Et @ (E @ v.ravel()), dtype=float)
    values, vectors = eigsh(op, k=count, v0=np.ones(op.shape[0]), tol=0)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    if rows >= cols:
        return vectors
    root = np.sqrt(np.maximum(values, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.einsum("wn,wk->nk", E, vectors) / root
    return np.where(root > 1e-12 * max(root[0], 1e-300), v, 0.0)


def statistical_loadings(
    specific: np.ndarray, scale: np.ndarray, dates: np.ndarray, s: RiskSettings
) -> np.ndarray:
    """(T, N, K) standardised statistical exposures: row t holds the components of the
    latest recompute date <= t (0 before the first)."""
    e = standardised_residuals(specific, scale)
    count, window = s.risk_statistical_factors, s.risk_statistical_window
    starts = recompute_rows(dates)
    held = np.stack(
        [window_components(e[max(t - window + 1, 0) : t + 1], count, window) for t in starts]
    )
    which = np.searchsorted(starts, np.arange(len(dates)), side="right") - 1
    return held[which]


def add_statistical(
    exp: Exposures, specific: np.ndarray, dates: np.ndarray, s: RiskSettings
) -> Exposures:
    """``exp`` with the statistical factors appended (loadings: standardised exposure x the
    name's scale, 0 outside ``covered``)."""
    z = statistical_loadings(specific, exp.scale, dates, s)
    loadings = np.where(exp.covered[..., None], z * exp.scale[..., None], 0.0)
    return replace(
        exp,
        factors=(*exp.factors, *statistical_names(s.risk_statistical_factors)),
        values=np.concatenate([exp.values, loadings], axis=2),
    )
