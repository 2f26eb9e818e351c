"""Numba rolling kernels for the operators polars lacks: regression on the bar index, arg-max/min.

Each kernel walks an asset-sorted column one asset segment at a time (``starts`` holds the
segment offsets, length ``n_assets + 1``) and restarts at every segment, so no value of one
asset can reach another's. A window that is not yet full or holds a NaN gives NaN. Every
window is computed from its own values (no running sums carried along the column), so a
value depends on nothing but its window.
"""

from __future__ import annotations

import numba
import numpy as np

# ``cache=True`` writes compiled kernels to NUMBA_CACHE_DIR, which ``alpha_core/__init__.py``
# points at the user's cache folder (never the package). Numba reads it when it is imported,
# so re-read it here in case numba was imported before alpha_core.
numba.core.config.reload_config()


@numba.njit(cache=True, nogil=True)
def rolling_regression(
    y: np.ndarray, starts: np.ndarray, window: int, flat_std: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope, R² and last residual of ``y`` regressed on x = 1..window, per window.

    Qlib's Slope, Rsquare and Resi; R² is NaN where the window's sample std of ``y`` is at most
    ``flat_std``. Values are centred on the window's last value before summing, so prices
    far from 0 lose no precision to cancellation.
    """
    n = y.shape[0]
    slope = np.full(n, np.nan)
    rsq = np.full(n, np.nan)
    resi = np.full(n, np.nan)
    x_mean = (window + 1) / 2.0
    sxx = window * (window * window - 1) / 12.0
    flat_var = flat_std * flat_std * (window - 1)
    for s in range(starts.shape[0] - 1):
        for t in range(starts[s] + window - 1, starts[s + 1]):
            last = y[t]
            sa = 0.0
            saa = 0.0
            sxa = 0.0
            for k in range(window):
                a = y[t - window + 1 + k] - last
                sa += a
                saa += a * a
                sxa += (k + 1 - x_mean) * a
            if not np.isfinite(saa + sxa):
                continue
            syy = max(saa - sa * sa / window, 0.0)
            b = sxa / sxx
            slope[t] = b
            resi[t] = -sa / window - b * (window - x_mean)
            if syy > flat_var:
                rsq[t] = sxa * sxa / (sxx * syy)
    return slope, rsq, resi


@numba.njit(cache=True, nogil=True)
def rolling_arg_extreme(
    x: np.ndarray, starts: np.ndarray, window: int, maximum: bool
) -> np.ndarray:
    """1-based position (oldest bar = 1) of the first max (or min) in each full window.

    Qlib's IdxMax / IdxMin (``argmax() + 1`` over the window). A monotone queue of indices
    keeps the oldest of equal extremes at its front: O(1) amortised per bar.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    queue = np.empty(n, dtype=np.int64)  # each segment uses its own slice
    for s in range(starts.shape[0] - 1):
        first, end = starts[s], starts[s + 1]
        head = first
        tail = first
        last_nan = first - window
        for t in range(first, end):
            v = x[t]
            if np.isnan(v):
                last_nan = t
                head = first  # every queued bar is older than the NaN: it leaves first
                tail = first
            else:
                while tail > head and (
                    x[queue[tail - 1]] < v if maximum else x[queue[tail - 1]] > v
                ):
                    tail -= 1
                queue[tail] = t
                tail += 1
            while tail > head and queue[head] <= t - window:
                head += 1
            if t - first >= window - 1 and t - last_nan >= window:
                out[t] = queue[head] - (t - window + 1) + 1
    return out


@numba.njit(cache=True, nogil=True)
def rolling_rank_pct(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Percentile of each window's last value: its average-tie rank / window (pandas' pct).

    Qlib's Rank (``rolling(d).rank(pct=True)``): (count below + (count equal + 1) / 2) / d,
    where the count of equal values includes the last value itself.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for s in range(starts.shape[0] - 1):
        for t in range(starts[s] + window - 1, starts[s + 1]):
            last = x[t]
            below = 0
            equal = 0
            valid = np.isfinite(last)
            for i in range(t - window + 1, t + 1):
                v = x[i]
                if np.isnan(v):
                    valid = False
                    break
                if v < last:
                    below += 1
                elif v == last:
                    equal += 1
            if valid:
                out[t] = (below + (equal + 1) / 2.0) / window
    return out
