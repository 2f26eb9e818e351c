"""Dense date x asset arrays from the long panel, and the causal kernels the model uses.

Every kernel here looks backwards only: row t of an output depends on rows <= t of its
inputs, which is what makes the risk model leak-free by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Bars:
    """The panel as (T, N) arrays (NaN where an asset has no usable bar) plus its groups."""

    dates: np.ndarray
    """(T,) datetime64[D], increasing."""
    assets: tuple[str, ...]
    close: np.ndarray
    dollar_volume: np.ndarray
    group: np.ndarray
    """(N,) int code into ``group_names``; -1: no group."""
    group_names: tuple[str, ...]
    group_column: str | None


def to_bars(panel: pl.DataFrame, group: str) -> Bars:
    """Pivot the canonical panel; closes that are missing or not positive count as no bar."""
    dates = np.unique(panel["date"].to_numpy().astype("datetime64[D]"))
    assets = np.unique(panel["asset"].to_numpy().astype(str))
    ti = np.searchsorted(dates, panel["date"].to_numpy().astype("datetime64[D]"))
    ai = np.searchsorted(assets, panel["asset"].to_numpy().astype(str))
    close = np.full((len(dates), len(assets)), np.nan)
    close[ti, ai] = panel["close"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    close[~(close > 0)] = np.nan
    volume = np.full_like(close, np.nan)
    if "volume" in panel.columns:
        volume[ti, ai] = panel["volume"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    volume[~(volume >= 0)] = np.nan
    column = group_column(panel, group)
    codes, names = _groups(panel, column, assets)
    return Bars(dates, tuple(assets.tolist()), close, close * volume, codes, names, column)


def group_column(panel: pl.DataFrame, group: str) -> str | None:
    """The metadata column the dummies come from, or None (absent or all null)."""
    wanted = ("sector", "asset_class") if group == "auto" else () if group == "none" else (group,)
    for column in wanted:
        if column in panel.columns and panel[column].null_count() < panel.height:
            return column
    return None


def _groups(
    panel: pl.DataFrame, column: str | None, assets: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each asset's group code (its first non-null value; metadata is static)."""
    codes = np.full(len(assets), -1)
    if column is None:
        return codes, ()
    first = (
        panel.filter(pl.col(column).is_not_null())
        .group_by("asset")
        .agg(pl.col(column).cast(pl.String).first())
    )
    names = tuple(sorted(set(first[column].to_list())))
    where = np.searchsorted(assets, first["asset"].to_numpy().astype(str))
    codes[where] = np.searchsorted(np.array(names), first[column].to_numpy().astype(str))
    return codes, names


def simple_returns(close: np.ndarray) -> np.ndarray:
    """Close-to-close return of each row over the previous row (NaN across a missing bar)."""
    out = np.full_like(close, np.nan)
    out[1:] = close[1:] / close[:-1] - 1.0
    return out


def decay(halflife: float) -> float:
    """The EWMA decay per day for a half-life in days."""
    return float(0.5 ** (1.0 / halflife))


def ewm_sum(x: np.ndarray, halflife: float) -> np.ndarray:
    """sum_{s<=t} decay^(t-s) x_s along axis 0 (one C recursion, no Python loop)."""
    from scipy.signal import lfilter  # here: scipy.signal costs 0.6 s to import (the CLI)

    return lfilter([1.0], [1.0, -decay(halflife)], x, axis=0)


def ewm_mean(x: np.ndarray, halflife: float) -> tuple[np.ndarray, np.ndarray]:
    """EWMA mean over observed values (pandas ``ewm(adjust=True, ignore_na=False)``) and
    the weight behind it (effective observations; NaN mean where none)."""
    seen = np.isfinite(x)
    weight = ewm_sum(seen.astype(float), halflife)
    total = ewm_sum(np.where(seen, x, 0.0), halflife)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan), weight


def rolling_sum(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of observed values over the last ``window`` rows (inclusive)."""
    seen = np.isfinite(x)
    padded = np.zeros((x.shape[0] + 1, *x.shape[1:]))
    counts = np.zeros_like(padded)
    np.cumsum(np.where(seen, x, 0.0), axis=0, out=padded[1:])
    np.cumsum(seen, axis=0, out=counts[1:])
    lag = np.maximum(np.arange(1, x.shape[0] + 1) - window, 0)
    return padded[1:] - padded[lag], counts[1:] - counts[lag]


def lagged(x: np.ndarray, rows: int) -> np.ndarray:
    """x shifted down by ``rows`` (row t holds row t - rows; NaN at the top)."""
    if rows == 0:
        return x
    out = np.full_like(x, np.nan)
    out[rows:] = x[:-rows]
    return out


def standardise(raw: np.ndarray, rows: np.ndarray, limit: float) -> np.ndarray:
    """Cross-sectional z-score per date over ``rows`` with a finite value: z-score, clip at
    +-limit, z-score again. Missing or out-of-row values become 0 (the mean)."""
    use = rows & np.isfinite(raw)
    z = _zscore(raw, use)
    z = _zscore(np.clip(z, -limit, limit), use)
    return np.where(use, z, 0.0)


def _zscore(x: np.ndarray, use: np.ndarray) -> np.ndarray:
    """(x - mean) / std per row over ``use`` (equal weights); 0 where undefined."""
    n = use.sum(axis=1, keepdims=True)
    v = np.where(use, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = v.sum(axis=1, keepdims=True) / n
        dev = np.where(use, x - mean, 0.0)
        std = np.sqrt((dev**2).sum(axis=1, keepdims=True) / (n - 1))
        z = dev / std
    return np.where(use & np.isfinite(z), z, 0.0)
