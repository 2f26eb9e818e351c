"""Honest return statistics for a 1-D series of daily simple returns.

Conventions
-----------
* Inputs are 1-D array-likes of *simple* (not log) per-period returns. NaNs are dropped
  first; every statistic is computed on the remaining observations (``n`` below is the
  number of non-NaN observations). Pairwise functions (:func:`alpha_beta`,
  :func:`information_coefficient`, :func:`rank_information_coefficient`) drop a pair when
  either side is NaN.
* When a statistic is undefined for the data (too few observations, zero variance, no
  drawdown for a Calmar ratio, ...) the function returns ``float('nan')`` (or a tuple of
  NaNs) and never raises. Invalid *arguments* (``level`` outside (0, 1), ``periods < 1``,
  mismatched array lengths, ...) raise :class:`ValueError`.
* ``periods`` is the number of periods per year (252 for daily data). Annualised figures:
  Sharpe and Sortino scale by ``sqrt(periods)``, volatility by ``sqrt(periods)``, the
  arithmetic mean return by ``periods``, CAGR compounds to ``periods`` per year.
* Standard deviations use ``ddof=1``. Higher moments (skewness, kurtosis) are the plain
  population (biased) moment ratios, matching ``scipy.stats.skew(r)`` and
  ``scipy.stats.kurtosis(r, fisher=False)``. **Kurtosis is RAW (non-excess)**: 3 for a
  normal distribution.
* Sharpe-inference functions (:func:`sharpe_ci_analytic`, :func:`probabilistic_sharpe_ratio`,
  :func:`expected_max_sharpe`, :func:`deflated_sharpe_ratio`,
  :func:`min_track_record_length`) work with the **per-period** (non-annualised) Sharpe
  ratio ``SR = mean / std``; ``sr_benchmark`` and ``sr_variance`` are per-period too.
  Only :func:`sharpe_ci_analytic` and :func:`sharpe_ci_bootstrap` return annualised
  bounds (per-period bounds times ``sqrt(periods)``).
* The asymptotic variance of the estimated per-period Sharpe ratio under non-normal but
  serially independent returns is ``(1 - skew*SR + (kurt-1)/4 * SR**2) / (n - 1)``.

References
----------
* Mertens, E. (2002). "Comments on variance of the IID estimator in Lo (2002)".
* Lo, A. W. (2002). "The Statistics of Sharpe Ratios". Financial Analysts Journal 58(4).
* Bailey, D. H. & Lopez de Prado, M. (2012). "The Sharpe Ratio Efficient Frontier".
  Journal of Risk 15(2). (Probabilistic Sharpe ratio, minimum track record length.)
* Bailey, D. H. & Lopez de Prado, M. (2014). "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality". Journal of Portfolio
  Management 40(5). (Expected maximum Sharpe ratio, deflated Sharpe ratio.)
* Politis, D. N. & Romano, J. P. (1994). "The Stationary Bootstrap". JASA 89(428).
"""

from __future__ import annotations

import math
import statistics

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "alpha_beta",
    "annual_volatility",
    "annualised_return",
    "cagr",
    "calmar_ratio",
    "deflated_sharpe_ratio",
    "drawdown_series",
    "equity_curve",
    "expected_max_sharpe",
    "information_coefficient",
    "max_drawdown",
    "min_track_record_length",
    "probabilistic_sharpe_ratio",
    "rank_information_coefficient",
    "sharpe_ci_analytic",
    "sharpe_ci_bootstrap",
    "sharpe_ratio",
    "sortino_ratio",
    "total_return",
    "win_rate",
]

_NAN = float("nan")
_NAN_PAIR: tuple[float, float] = (_NAN, _NAN)

# Bound on the number of float64 elements materialised per bootstrap chunk (~32 MB).
_BOOT_CHUNK_ELEMS = 4_000_000


# --------------------------------------------------------------------------- helpers


def _norm_cdf(z: float) -> float:
    """Standard normal CDF (``math.erfc``: exact in the tails, no ~0.4 s scipy.stats import
    in every run)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _norm_sf(z: float) -> float:
    """Standard normal survival function, 1 - CDF without cancellation for large z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _norm_ppf(p: float) -> float:
    """Standard normal quantile for 0 < p < 1 (Wichura's AS241, ~1e-16 relative)."""
    return _STANDARD_NORMAL.inv_cdf(p)


_STANDARD_NORMAL = statistics.NormalDist()


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (``scipy.stats.rankdata``)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return ((last - counts + 1 + last) / 2.0)[inverse.ravel()]


def _clean(r: ArrayLike) -> np.ndarray:
    """1-D float64 copy of ``r`` with NaNs removed."""
    x = np.asarray(r, dtype=float).ravel()
    return x[~np.isnan(x)]


def _clean_pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Aligned 1-D float64 arrays with every pair containing a NaN removed."""
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"arrays must have the same length, got {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def _has_spread(x: np.ndarray) -> bool:
    """True when ``x`` is not constant (exact test: avoids 1e-18 'volatility' from rounding)."""
    return x.size > 0 and bool(np.max(x) > np.min(x))


def _check_periods(periods: float) -> None:
    if not periods >= 1:
        raise ValueError(f"periods must be >= 1, got {periods}")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _sr_moments(x: np.ndarray) -> tuple[float, float, float] | None:
    """(per-period SR with ddof=1 std, population skew, RAW population kurtosis) or None."""
    if x.size < 2 or not _has_spread(x):
        return None
    sd = float(np.std(x, ddof=1))
    if not sd > 0.0:
        return None
    mean = float(np.mean(x))
    d = x - mean
    # Rescale before taking powers so tiny (but non-zero) spreads cannot underflow m2**2.
    u = d / float(np.max(np.abs(d)))
    m2 = float(np.mean(u * u))
    if not m2 > 0.0:
        return None
    z = u / math.sqrt(m2)
    skew = float(np.mean(z**3))
    kurt = float(np.mean(z**4))
    return mean / sd, skew, kurt


def _sr_var_term(sr: float, skew: float, kurt: float) -> float:
    """``1 - skew*SR + (kurt-1)/4 * SR**2`` (n-1 times the asymptotic var of SR_hat).

    Non-negative in exact arithmetic because population moments satisfy
    ``kurt >= skew**2 + 1``; callers treat a non-positive value as undefined.
    """
    return 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr


# --------------------------------------------------------------------------- basics


def sharpe_ratio(r: ArrayLike, periods: int = 252) -> float:
    """Annualised Sharpe ratio ``mean / std(ddof=1) * sqrt(periods)`` (no risk-free rate).

    NaN if fewer than 2 observations or zero variance.
    """
    _check_periods(periods)
    x = _clean(r)
    if x.size < 2 or not _has_spread(x):
        return _NAN
    sd = float(np.std(x, ddof=1))
    if not sd > 0.0:  # subnormal spreads can still underflow to a zero std
        return _NAN
    return float(np.mean(x) / sd * math.sqrt(periods))


def annual_volatility(r: ArrayLike, periods: int = 252) -> float:
    """Annualised volatility ``std(ddof=1) * sqrt(periods)``; NaN if fewer than 2 obs.

    A constant series has volatility exactly 0.0.
    """
    _check_periods(periods)
    x = _clean(r)
    if x.size < 2:
        return _NAN
    if not _has_spread(x):
        return 0.0
    return float(np.std(x, ddof=1) * math.sqrt(periods))


def annualised_return(r: ArrayLike, periods: int = 252) -> float:
    """Arithmetic annualised return ``mean * periods``; NaN if no observations."""
    _check_periods(periods)
    x = _clean(r)
    if x.size == 0:
        return _NAN
    return float(np.mean(x) * periods)


def total_return(r: ArrayLike) -> float:
    """Compounded total return ``prod(1 + r) - 1``; NaN if no observations."""
    x = _clean(r)
    if x.size == 0:
        return _NAN
    return float(np.prod(1.0 + x) - 1.0)


def cagr(r: ArrayLike, periods: int = 252) -> float:
    """Compound annual growth rate ``(1 + total) ** (periods / n) - 1``.

    NaN if no observations; -1.0 if the equity is wiped out (``1 + total <= 0``).
    """
    _check_periods(periods)
    x = _clean(r)
    if x.size == 0:
        return _NAN
    growth = float(np.prod(1.0 + x))
    if growth <= 0.0:
        return -1.0
    return float(growth ** (periods / x.size) - 1.0)


def equity_curve(r: ArrayLike) -> np.ndarray:
    """Equity ``cumprod(1 + r)`` (length n; the starting value 1 is implied, not included)."""
    x = _clean(r)
    return np.cumprod(1.0 + x)


def drawdown_series(r: ArrayLike) -> np.ndarray:
    """Drawdown ``equity / running_max - 1`` (length n, all values <= 0).

    The running maximum includes the implied starting equity of 1, so a first-day loss
    is a drawdown.
    """
    eq = equity_curve(r)
    if eq.size == 0:
        return eq
    peak = np.maximum.accumulate(np.maximum(eq, 1.0))
    return np.minimum(eq / peak - 1.0, 0.0)


def max_drawdown(r: ArrayLike) -> float:
    """Most negative drawdown (e.g. -0.25 for a 25% peak-to-trough loss; 0.0 if never down).

    NaN if no observations.
    """
    dd = drawdown_series(r)
    if dd.size == 0:
        return _NAN
    return float(np.min(dd))


def win_rate(r: ArrayLike) -> float:
    """Share of (non-NaN) periods with ``r > 0``; NaN if no observations."""
    x = _clean(r)
    if x.size == 0:
        return _NAN
    return float(np.mean(x > 0.0))


def sortino_ratio(r: ArrayLike, periods: int = 252) -> float:
    """Annualised Sortino ratio ``mean / sqrt(mean(min(r, 0)**2)) * sqrt(periods)``.

    The downside deviation averages over *all* n periods (target 0). NaN if fewer than 2
    observations or no negative period (zero downside deviation).
    """
    _check_periods(periods)
    x = _clean(r)
    if x.size < 2:
        return _NAN
    downside = np.minimum(x, 0.0)
    dd = math.sqrt(float(np.mean(downside * downside)))
    if not dd > 0.0:
        return _NAN
    return float(np.mean(x) / dd * math.sqrt(periods))


def calmar_ratio(r: ArrayLike, periods: int = 252) -> float:
    """Calmar ratio ``cagr / |max_drawdown|``; NaN if undefined or never in drawdown."""
    c = cagr(r, periods)
    mdd = max_drawdown(r)
    if math.isnan(c) or math.isnan(mdd) or mdd == 0.0:
        return _NAN
    return float(c / abs(mdd))


# --------------------------------------------------------------------------- Sharpe inference


def sharpe_ci_analytic(
    r: ArrayLike, level: float = 0.95, periods: int = 252
) -> tuple[float, float]:
    """Two-sided asymptotic confidence interval for the annualised Sharpe ratio.

    Uses the non-normal IID variance of the per-period estimate (Mertens 2002; Bailey &
    Lopez de Prado 2012)::

        var(SR_hat) = (1 - skew*SR + (kurt - 1)/4 * SR**2) / (n - 1),   kurt RAW

    The interval ``SR +- z_{(1+level)/2} * sqrt(var)`` is built on the per-period SR and
    then multiplied by ``sqrt(periods)``. It ignores serial correlation; use
    :func:`sharpe_ci_bootstrap` when that matters. ``(nan, nan)`` when undefined.
    """
    _check_level(level)
    _check_periods(periods)
    x = _clean(r)
    mom = _sr_moments(x)
    if mom is None:
        return _NAN_PAIR
    sr, skew, kurt = mom
    term = _sr_var_term(sr, skew, kurt)
    if not term > 0.0:
        return _NAN_PAIR
    half = _norm_ppf(0.5 + level / 2.0) * math.sqrt(term / (x.size - 1))
    scale = math.sqrt(periods)
    return (float((sr - half) * scale), float((sr + half) * scale))


def _stationary_bootstrap_blocks(
    rng: np.random.Generator, n: int, n_rows: int, p: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row, start, length)`` of every block of ``n_rows`` Politis-Romano resamples of n.

    Each resample is a concatenation of circular blocks with uniformly random starts and
    geometric(p) lengths: at every position a new block starts with probability ``p``
    (always at position 0), otherwise the previous index advances by one (mod n). Resample
    ``r``'s position ``j`` holds index ``(start + j - first) % n`` of the block covering it.
    """
    new_block = rng.random((n_rows, n)) < p
    new_block[:, 0] = True
    starts = rng.integers(0, n, size=(n_rows, n))  # drawn for every position, used at blocks
    rows, cols = np.nonzero(new_block)  # row-major: blocks in order within each row
    ends = np.empty_like(cols)
    ends[:-1] = cols[1:]
    ends[np.r_[rows[1:] != rows[:-1], True]] = n  # a row's last block runs to its end
    return rows, starts[rows, cols], ends - cols


def _bootstrap_sharpes(x: np.ndarray, n_rows: int, p: float, rng: np.random.Generator):
    """Per-period Sharpe ratios of ``n_rows`` stationary-bootstrap resamples of ``x``.

    Each block's sum is a difference of prefix sums over ``x`` repeated twice (a block
    wraps around at most once), so the work is per block, not per resampled day. NaN for a
    resample without variance.
    """
    n = x.size
    rows, start, length = _stationary_bootstrap_blocks(rng, n, n_rows, p)
    twice = np.concatenate([x, x])
    sums = []
    for values in (twice, twice * twice):
        prefix = np.concatenate([[0.0], np.cumsum(values)])
        block = prefix[start + length] - prefix[start]
        sums.append(np.bincount(rows, weights=block, minlength=n_rows))
    total, squares = sums
    mu = total / n
    var = (squares - total * mu) / (n - 1)
    # A constant resample (possible with few distinct values) leaves only rounding here.
    flat = ~(var > 1e-12 * (squares / n))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flat, np.nan, mu / np.sqrt(np.where(flat, 1.0, var)))


def sharpe_ci_bootstrap(
    r: ArrayLike,
    level: float = 0.95,
    periods: int = 252,
    n_boot: int = 2000,
    mean_block: float | None = None,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Stationary-bootstrap percentile interval for the annualised Sharpe ratio.

    Politis & Romano (1994) stationary bootstrap: blocks with geometric lengths of mean
    ``mean_block`` (default ``max(1, round(n ** (1/3)))``; 1 gives the i.i.d. bootstrap)
    wrapped circularly, which preserves short-range serial dependence. Returns the
    ``(1-level)/2`` and ``(1+level)/2`` percentiles of the ``n_boot`` resampled annualised
    Sharpe ratios (resamples with zero variance are ignored). Deterministic for a given
    ``seed``. ``(nan, nan)`` when the Sharpe ratio of the sample is undefined.
    """
    _check_level(level)
    _check_periods(periods)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    x = _clean(r)
    n = x.size
    if n < 2 or not _has_spread(x):
        return _NAN_PAIR
    if mean_block is None:
        mean_block = max(1, round(n ** (1.0 / 3.0)))
    if not mean_block >= 1:
        raise ValueError(f"mean_block must be >= 1, got {mean_block}")
    p = 1.0 / float(mean_block)

    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _BOOT_CHUNK_ELEMS // n)
    srs = np.empty(n_boot)
    for lo in range(0, n_boot, rows_per_chunk):
        hi = min(n_boot, lo + rows_per_chunk)
        srs[lo:hi] = _bootstrap_sharpes(x, hi - lo, p, rng)
    srs = srs[~np.isnan(srs)]
    if srs.size == 0:
        return _NAN_PAIR
    alpha = 1.0 - level
    lo_q, hi_q = np.quantile(srs, [alpha / 2.0, 1.0 - alpha / 2.0])
    scale = math.sqrt(periods)
    return (float(lo_q * scale), float(hi_q * scale))


def probabilistic_sharpe_ratio(r: ArrayLike, sr_benchmark: float = 0.0) -> float:
    """Probabilistic Sharpe ratio (Bailey & Lopez de Prado 2012)::

        PSR = Phi( (SR - SR*) * sqrt(n - 1) / sqrt(1 - skew*SR + (kurt - 1)/4 * SR**2) )

    ``SR`` is the per-period (non-annualised) sample Sharpe ratio and ``sr_benchmark``
    (``SR*``) is per-period too; ``kurt`` is raw kurtosis. The probability that the true
    Sharpe ratio exceeds ``SR*``. NaN when undefined.
    """
    x = _clean(r)
    mom = _sr_moments(x)
    if mom is None or math.isnan(sr_benchmark):
        return _NAN
    sr, skew, kurt = mom
    term = _sr_var_term(sr, skew, kurt)
    if not term > 0.0:
        return _NAN
    z = (sr - sr_benchmark) * math.sqrt(x.size - 1) / math.sqrt(term)
    return _norm_cdf(z)


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios under the null of zero true Sharpe.

    Bailey & Lopez de Prado (2014)::

        E[max SR] = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))

    with ``g`` the Euler-Mascheroni constant and ``V = sr_variance`` the variance of the
    (per-period) Sharpe ratios across trials. Returns 0.0 when ``n_trials <= 1``.
    """
    if n_trials <= 1:
        return 0.0
    if sr_variance < 0:
        raise ValueError(f"sr_variance must be >= 0, got {sr_variance}")
    g = float(np.euler_gamma)
    n = float(n_trials)
    z = (1.0 - g) * _norm_ppf(1.0 - 1.0 / n) + g * _norm_ppf(1.0 - 1.0 / (n * math.e))
    return float(math.sqrt(sr_variance) * z)


def deflated_sharpe_ratio(r: ArrayLike, n_trials: int, sr_variance: float | None = None) -> float:
    """Deflated Sharpe ratio (Bailey & Lopez de Prado 2014).

    ``DSR = PSR(SR* = expected_max_sharpe(n_trials, sr_variance))``: the probability that
    the true Sharpe ratio beats the best Sharpe expected from ``n_trials`` skill-less
    trials. ``sr_variance`` is the variance of the per-period Sharpe ratios across the
    trials; when None the estimator variance of this series' own SR is used,
    ``(1 - skew*SR + (kurt - 1)/4 * SR**2) / (n - 1)``. With ``n_trials = 1``,
    ``DSR == PSR(0)``. NaN when undefined.
    """
    x = _clean(r)
    if sr_variance is None:
        mom = _sr_moments(x)
        if mom is None:
            return _NAN
        term = _sr_var_term(*mom)
        if not term > 0.0:
            return _NAN
        sr_variance = term / (x.size - 1)
    elif math.isnan(sr_variance):
        return _NAN
    return probabilistic_sharpe_ratio(x, expected_max_sharpe(n_trials, sr_variance))


def min_track_record_length(r: ArrayLike, sr_benchmark: float = 0.0, level: float = 0.95) -> float:
    """Minimum track record length (Bailey & Lopez de Prado 2012), in periods::

        MinTRL = 1 + (1 - skew*SR + (kurt - 1)/4 * SR**2) * (z_level / (SR - SR*))**2

    with per-period ``SR``/``SR*``, raw kurtosis and one-sided ``z_level = Phi^-1(level)``:
    the number of observations needed for ``PSR(SR*) >= level`` at the observed moments.
    ``inf`` if ``SR <= SR*``; NaN when undefined.
    """
    _check_level(level)
    x = _clean(r)
    mom = _sr_moments(x)
    if mom is None or math.isnan(sr_benchmark):
        return _NAN
    sr, skew, kurt = mom
    if sr <= sr_benchmark:
        return math.inf
    term = _sr_var_term(sr, skew, kurt)
    if not term > 0.0:
        return _NAN
    z = _norm_ppf(level)
    return float(1.0 + term * (z / (sr - sr_benchmark)) ** 2)


# --------------------------------------------------------------------------- regression / IC


def alpha_beta(r: ArrayLike, benchmark: ArrayLike, periods: int = 252) -> tuple[float, float]:
    """OLS ``r = a + b * benchmark + e``; returns ``(a * periods, b)`` (annualised alpha).

    Arrays must be aligned (same length); pairs with a NaN on either side are dropped.
    ``(nan, nan)`` if fewer than 2 pairs or a constant benchmark.
    """
    _check_periods(periods)
    y, xb = _clean_pair(r, benchmark)
    if y.size < 2 or not _has_spread(xb):
        return _NAN_PAIR
    xm = float(np.mean(xb))
    ym = float(np.mean(y))
    dx = xb - xm
    scale = float(np.max(np.abs(dx)))  # rescale so sum(dx**2) cannot underflow to 0
    if not scale > 0.0:
        return _NAN_PAIR
    ux = dx / scale
    sxx = float(np.dot(ux, ux))
    if not sxx > 0.0:
        return _NAN_PAIR
    beta = float(np.dot(ux, y - ym) / sxx / scale)
    alpha = ym - beta * xm
    return (float(alpha * periods), beta)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3 or not _has_spread(x) or not _has_spread(y):
        return _NAN
    dx = x - np.mean(x)
    dy = y - np.mean(y)
    # Rescale each side so tiny spreads cannot underflow (correlation is scale-free).
    sx = float(np.max(np.abs(dx)))
    sy = float(np.max(np.abs(dy)))
    if not (sx > 0.0 and sy > 0.0):
        return _NAN
    dx = dx / sx
    dy = dy / sy
    denom = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if not denom > 0.0:
        return _NAN
    return float(np.clip(np.dot(dx, dy) / denom, -1.0, 1.0))


def information_coefficient(pred: ArrayLike, target: ArrayLike) -> float:
    """Pearson correlation of predictions and targets (pairwise NaN drop).

    NaN if fewer than 3 pairs or either side has zero variance.
    """
    x, y = _clean_pair(pred, target)
    return _pearson(x, y)


def rank_information_coefficient(pred: ArrayLike, target: ArrayLike) -> float:
    """Spearman rank correlation (average ranks for ties; pairwise NaN drop).

    NaN if fewer than 3 pairs or either side is constant.
    """
    x, y = _clean_pair(pred, target)
    if x.size < 3:
        return _NAN
    return _pearson(_average_ranks(x), _average_ranks(y))


def drawdown_periods(r: ArrayLike) -> list[tuple[int, int, int | None, float]]:
    """Every drawdown of the return series ``r``, deepest first.

    Each is ``(peak, trough, recovery, depth)``: indices of the last day at the running peak,
    of the lowest equity, of the first day back at (or above) the peak (None: not recovered
    by the end), and the depth ``trough equity / peak equity - 1`` (negative). The peak
    before the first day is the starting equity 1 (index -1).
    """
    equity = np.concatenate([[1.0], equity_curve(np.nan_to_num(np.asarray(r, float)))])
    periods: list[tuple[int, int, int | None, float]] = []
    peak = 0
    i = 1
    while i < equity.size:
        if equity[i] >= equity[peak]:
            peak = i
            i += 1
            continue
        trough = i
        while i < equity.size and equity[i] < equity[peak]:
            if equity[i] < equity[trough]:
                trough = i
            i += 1
        recovery = i - 1 if i < equity.size else None
        depth = float(equity[trough] / equity[peak] - 1.0)
        periods.append((peak - 1, trough - 1, recovery, depth))
    return sorted(periods, key=lambda p: p[3])


def value_at_risk(r: ArrayLike, level: float = 0.95) -> float:
    """Historical one-day VaR: the ``1 - level`` quantile of ``r`` (a loss is negative)."""
    x = _clean(r)
    return float(np.quantile(x, 1.0 - level)) if x.size else float("nan")


def conditional_value_at_risk(r: ArrayLike, level: float = 0.95) -> float:
    """Historical expected shortfall: the mean of the returns at or below the VaR."""
    x = _clean(r)
    if not x.size:
        return float("nan")
    return float(x[x <= np.quantile(x, 1.0 - level)].mean())


def tail_ratio(r: ArrayLike) -> float:
    """|95th percentile| / |5th percentile| of daily returns (above 1: fatter right tail)."""
    x = _clean(r)
    if not x.size:
        return float("nan")
    low = abs(float(np.quantile(x, 0.05)))
    return abs(float(np.quantile(x, 0.95))) / low if low > 0 else float("nan")


def sharpe_difference_test(a: ArrayLike, b: ArrayLike) -> dict[str, float]:
    """Jobson-Korkie test of equal Sharpe ratios, with Memmel's (2003) correction.

    ``a`` and ``b`` are the two return series on the same days (pairs with a NaN dropped).
    Returns the per-period Sharpe ratios ``sharpe_a``/``sharpe_b``, their difference, its
    standard error, the z statistic and the two-sided p-value. The variance of the
    difference is ``(2 - 2 rho + (sa^2 + sb^2 - 2 sa sb rho^2) / 2) / T`` (rho the
    correlation of the series; moments with ddof 0), i.e. the delta method under normal
    returns.
    """
    x, y = _clean_pair(a, b)
    nan = float("nan")
    out = dict(sharpe_a=nan, sharpe_b=nan, difference=nan, std_error=nan, z=nan, p_value=nan,
               rho=nan, n=float(x.size))  # fmt: skip
    if x.size < 3 or not (_has_spread(x) and _has_spread(y)):
        return out
    sa, sb = x.mean() / x.std(), y.mean() / y.std()
    rho = float(np.corrcoef(x, y)[0, 1])
    var = (2 - 2 * rho + 0.5 * (sa**2 + sb**2 - 2 * sa * sb * rho**2)) / x.size
    se = math.sqrt(max(var, 0.0))
    z = (sa - sb) / se if se > 0 else nan
    p = 2.0 * _norm_sf(abs(z)) if se > 0 else nan
    out.update(sharpe_a=float(sa), sharpe_b=float(sb), difference=float(sa - sb),
               std_error=se, z=float(z), p_value=float(p), rho=rho)  # fmt: skip
    return out
