"""Distribution drift between a reference sample and a recent one: PSI and a two-sample test.

* Population stability index (:func:`psi`): the reference's deciles (``bins`` quantile bins,
  duplicate edges merged) cut both samples; with ``r_i`` and ``c_i`` the shares of the
  reference and the recent sample in bin ``i`` (each floored at :data:`PSI_FLOOR`, so an
  empty bin stays finite), ``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)``. Rules of thumb:
  below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a large one.
* Two-sample Kolmogorov-Smirnov (:func:`ks_test`): the largest gap between the two empirical
  CDFs and its p-value (``scipy.stats.ks_2samp``, exact for small samples, asymptotic else).

With hundreds of thousands of reference rows the KS test finds tiny, harmless differences
significant, so a feature is flagged only when its PSI crosses the threshold *and* the test
rejects (:func:`feature_drift`). Missing values are left out of both samples (their share
is reported beside).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

PSI_FLOOR = 1e-4
"""Smallest bin share used in the PSI (an empty bin would make it infinite)."""


@dataclass(frozen=True)
class DriftSettings:
    """Thresholds of the drift report (the desk's own settings, not the run's)."""

    recent_days: int = 20
    """Trading days of the recent sample (the last ones of the data)."""
    bins: int = 10
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    ks_alpha: float = 0.01
    max_reference_rows: int = 200_000
    """Larger reference samples are thinned to this many rows (evenly, deterministic)."""


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


def psi_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges: the reference's ``1/bins .. (bins-1)/bins`` quantiles, deduplicated."""
    ref = _finite(reference)
    if ref.size == 0:
        return np.array([])
    return np.unique(np.quantile(ref, np.arange(1, bins) / bins))


def bin_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``x`` in each bin ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    values = _finite(x)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``recent`` against ``reference`` (module doc)."""
    ref, cur = _finite(reference), _finite(recent)
    if ref.size == 0 or cur.size == 0:
        return math.nan
    edges = psi_edges(ref, bins)
    r = np.maximum(bin_shares(ref, edges), PSI_FLOOR)
    c = np.maximum(bin_shares(cur, edges), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_test(reference: np.ndarray, recent: np.ndarray) -> tuple[float, float]:
    """``(statistic, p_value)`` of the two-sample Kolmogorov-Smirnov test."""
    from scipy import stats  # imported when used: scipy.stats takes ~1 s to import

    ref, cur = _finite(reference), _finite(recent)
    if ref.size == 0 or cur.size == 0:
        return math.nan, math.nan
    result = stats.ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def status(value: float, p_value: float, settings: DriftSettings) -> str:
    """``alert`` (PSI over the alert threshold and the test rejects), ``warn`` or ``ok``."""
    if math.isnan(value):
        return "n/a"
    if value >= settings.psi_alert and p_value < settings.ks_alpha:
        return "alert"
    return "warn" if value >= settings.psi_warn else "ok"


def thin(frame: pl.DataFrame, max_rows: int) -> pl.DataFrame:
    """Every k-th row so at most ``max_rows`` remain (deterministic)."""
    if frame.height <= max_rows:
        return frame
    return frame.gather_every(math.ceil(frame.height / max_rows))


def feature_drift(
    reference: pl.DataFrame,
    recent: pl.DataFrame,
    columns: list[str],
    settings: DriftSettings,
) -> pl.DataFrame:
    """``feature, psi, ks, p_value, missing_ref, missing_recent, status`` per column."""
    reference = thin(reference, settings.max_reference_rows)
    rows = []
    for c in columns:
        ref = reference[c].cast(pl.Float64).to_numpy()
        cur = recent[c].cast(pl.Float64).to_numpy()
        value = psi(ref, cur, settings.bins)
        ks, p = ks_test(ref, cur)
        rows.append(
            {
                "feature": c,
                "psi": value,
                "ks": ks,
                "p_value": p,
                "missing_ref": float(np.mean(~np.isfinite(ref))) if ref.size else math.nan,
                "missing_recent": float(np.mean(~np.isfinite(cur))) if cur.size else math.nan,
                "status": status(value, p, settings),
            }
        )
    numbers = ("psi", "ks", "p_value", "missing_ref", "missing_recent")
    schema = {"feature": pl.Utf8, **dict.fromkeys(numbers, pl.Float64), "status": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)
