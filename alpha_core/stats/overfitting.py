"""Backtest overfitting across the trials of a sweep: PBO by CSCV and White's reality check.

* :func:`pbo_cscv`: the probability of backtest overfitting by combinatorially symmetric
  cross-validation (Bailey, Borwein, Lopez de Prado & Zhu 2015, "The Probability of Backtest
  Overfitting", J. Computational Finance 20(4)). The ``T x N`` matrix of the trials' returns
  is cut into ``S`` (even) blocks of rows; for each of the ``C(S, S/2)`` ways to take half the
  blocks as in-sample, the trial with the best in-sample Sharpe is located in the
  out-of-sample ranking: relative rank ``w = rank / (N + 1)`` (rank 1 the worst), logit
  ``log(w / (1 - w))``. PBO is the share of splits whose logit is <= 0 (the in-sample best
  lands in the bottom half out of sample). Pure-noise trials give PBO ~ 0.5.
* :func:`reality_check`: White's (2000) reality check of the best of ``K`` strategies
  against a benchmark, with the stationary bootstrap of Politis & Romano (1994): the
  statistic ``V = max_k sqrt(T) * mean(d_k)`` of the excess returns ``d_k``, its null
  distribution ``max_k sqrt(T) * (mean(d*_k) - mean(d_k))`` over resampled rows; the
  p-value is the share of resamples at or above ``V``. (It equals the "upper" p-value of
  Hansen's SPA without studentisation; ``tests/test_overfitting.py`` checks it against the
  ``arch`` package where installed.)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class PBO:
    """PBO and the per-split logits it is the share of (<= 0)."""

    pbo: float
    logits: np.ndarray
    n_splits: int


def _sharpe_columns(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, x.mean(axis=0) / sd, -np.inf)


def pbo_cscv(returns: ArrayLike, n_blocks: int = 16) -> PBO:
    """PBO of choosing the best in-sample Sharpe among the columns of ``returns`` (T x N).

    ``n_blocks`` is lowered to the largest even number that leaves at least 2 rows a block.
    Ties in the out-of-sample ranking take their average rank. NaN with fewer than 2 trials.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("returns must be a T x N matrix (dates x trials)")
    t, n = x.shape
    s = min(n_blocks, t // 2)
    s -= s % 2
    if n < 2 or s < 2:
        return PBO(math.nan, np.array([]), 0)
    blocks = np.array_split(np.arange(t), s)
    logits = []
    for chosen in itertools.combinations(range(s), s // 2):
        inside = np.concatenate([blocks[i] for i in chosen])
        outside = np.concatenate([blocks[i] for i in range(s) if i not in chosen])
        best = int(np.argmax(_sharpe_columns(x[inside])))
        oos = _sharpe_columns(x[outside])
        rank = (oos < oos[best]).sum() + ((oos == oos[best]).sum() + 1) / 2
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    values = np.array(logits)
    return PBO(float((values <= 0).mean()), values, len(values))


def stationary_bootstrap_indices(
    n_rows: int, n_boot: int, mean_block: float, rng: np.random.Generator
) -> np.ndarray:
    """``n_boot x n_rows`` row indices of the stationary bootstrap (blocks of geometric
    length with mean ``mean_block``, wrapping around the end)."""
    if mean_block < 1:
        raise ValueError("mean_block must be >= 1")
    p = 1.0 / mean_block
    idx = np.empty((n_boot, n_rows), dtype=np.int64)
    idx[:, 0] = rng.integers(0, n_rows, n_boot)
    fresh = rng.random((n_boot, n_rows)) < p
    starts = rng.integers(0, n_rows, (n_boot, n_rows))
    for j in range(1, n_rows):
        idx[:, j] = np.where(fresh[:, j], starts[:, j], (idx[:, j - 1] + 1) % n_rows)
    return idx


def reality_check(
    excess: ArrayLike,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    seed: int = 0,
    indices: np.ndarray | None = None,
) -> float:
    """White's reality check p-value that no column of ``excess`` (T x K strategy minus
    benchmark returns) has a positive mean. ``indices`` (n_boot x T) overrides the
    seeded stationary bootstrap."""
    d = np.asarray(excess, dtype=np.float64)
    if d.ndim == 1:
        d = d[:, None]
    t = d.shape[0]
    if t < 2:
        return math.nan
    if indices is None:
        indices = stationary_bootstrap_indices(t, n_boot, mean_block, np.random.default_rng(seed))
    means = d.mean(axis=0)
    stat = math.sqrt(t) * means.max()
    chunk = max(1, 4_000_000 // max(1, d.size))  # bounds the resampled block in memory
    boot = np.concatenate(
        [
            math.sqrt(t) * (d[indices[i : i + chunk]].mean(axis=1) - means).max(axis=1)
            for i in range(0, len(indices), chunk)
        ]
    )
    return float((boot >= stat).mean())
