"""Tests for alpha_core.stats.returns against independent computations.

Every expected value is computed here by hand (python arithmetic, pandas, numpy.polyfit,
scipy.stats, a Monte Carlo or a bootstrap), never by calling the function under test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from alpha_core.stats import returns as S

R = [0.01, -0.02, 0.03, 0.0, -0.01]
N = 5
EULER_GAMMA = 0.5772156649015329


# --------------------------------------------------------------------------- hand example
# r = [0.01, -0.02, 0.03, 0.0, -0.01]
#   mean = 0.01 / 5 = 0.002
#   deviations 0.008, -0.022, 0.028, -0.002, -0.012 -> squares sum 0.00148 -> var(ddof=1) 0.00037
#   equity 1.01, 0.9898, 1.019494, 1.019494, 1.00929906
#   running max (incl. 1) 1.01, 1.01, 1.019494, 1.019494, 1.019494
#   drawdown 0, -0.02, 0, 0, -0.01
#   downside min(r,0)^2 = 0.0004 + 0.0001 -> mean 0.0001 -> downside deviation 0.01
MEAN = 0.002
VAR = 0.00148 / 4
TOTAL = 1.01 * 0.98 * 1.03 * 1.00 * 0.99 - 1.0
CAGR = (1.0 + TOTAL) ** (252 / 5) - 1.0


def test_hand_example_sanity_of_the_worked_numbers():
    # The worked numbers above agree with pandas (an independent implementation).
    s = pd.Series(R)
    assert s.mean() == pytest.approx(MEAN, rel=1e-12)
    assert s.var() == pytest.approx(VAR, rel=1e-12)
    assert (1 + s).prod() - 1 == pytest.approx(TOTAL, rel=1e-12)


def test_sharpe_hand():
    expected = MEAN / math.sqrt(VAR) * math.sqrt(252)
    assert expected == pytest.approx(1.650553, abs=1e-6)
    assert S.sharpe_ratio(R) == pytest.approx(expected, rel=1e-12)
    s = pd.Series(R)
    assert S.sharpe_ratio(R, periods=12) == pytest.approx(s.mean() / s.std() * math.sqrt(12))


def test_annual_volatility_hand():
    expected = math.sqrt(VAR * 252)
    assert expected == pytest.approx(0.305352, abs=1e-6)
    assert S.annual_volatility(R) == pytest.approx(expected, rel=1e-12)


def test_annualised_return_hand():
    assert S.annualised_return(R) == pytest.approx(0.504, rel=1e-12)


def test_total_return_hand():
    assert pytest.approx(0.00929906, abs=1e-12) == TOTAL
    assert S.total_return(R) == pytest.approx(TOTAL, rel=1e-12)


def test_cagr_hand():
    assert pytest.approx(0.5944, abs=1e-3) == CAGR
    assert S.cagr(R) == pytest.approx(CAGR, rel=1e-12)
    # One year of data: CAGR equals the total return.
    year = np.full(252, 0.001)
    assert S.cagr(year) == pytest.approx(1.001**252 - 1, rel=1e-12)


def test_equity_and_drawdown_series_hand():
    np.testing.assert_allclose(
        S.equity_curve(R), [1.01, 0.9898, 1.019494, 1.019494, 1.00929906], rtol=1e-12
    )
    np.testing.assert_allclose(
        S.drawdown_series(R), [0.0, -0.02, 0.0, 0.0, 0.99 - 1.0], rtol=1e-9, atol=1e-15
    )


def test_drawdown_counts_first_day_loss_against_starting_one():
    dd = S.drawdown_series([-0.1, 0.05])
    np.testing.assert_allclose(dd, [-0.1, 0.9 * 1.05 - 1.0], rtol=1e-12)
    assert S.max_drawdown([-0.1, 0.05]) == pytest.approx(-0.1, rel=1e-12)


def test_max_drawdown_hand():
    assert S.max_drawdown(R) == pytest.approx(-0.02, rel=1e-12)
    assert S.max_drawdown([0.01, 0.02, 0.0]) == 0.0


def test_max_drawdown_against_pandas_on_random_path():
    r = np.random.default_rng(3).normal(0.0, 0.02, 400)
    eq = pd.Series(np.concatenate([[1.0], (1 + r).cumprod()]))
    expected = (eq / eq.cummax() - 1).min()
    assert S.max_drawdown(r) == pytest.approx(expected, rel=1e-12)


def test_win_rate_hand():
    assert S.win_rate(R) == pytest.approx(2 / 5)
    assert S.win_rate([0.01, np.nan, -0.01, np.nan]) == pytest.approx(0.5)


def test_sortino_hand():
    expected = MEAN / 0.01 * math.sqrt(252)
    assert expected == pytest.approx(3.174902, abs=1e-6)
    assert S.sortino_ratio(R) == pytest.approx(expected, rel=1e-12)


def test_calmar_hand():
    assert S.calmar_ratio(R) == pytest.approx(CAGR / 0.02, rel=1e-12)


# --------------------------------------------------------------------------- PSR / DSR / MinTRL


def _skewed_sample(n: int = 300, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Negatively skewed, fat-tailed noise (like many strategy returns), standardised so the
    # per-period Sharpe ratio is exactly 0.1 (annualised ~1.59) whatever the draw.
    e = rng.standard_t(5, n) - 0.6 * rng.exponential(1.0, n)
    e = (e - e.mean()) / e.std(ddof=1)
    return 0.01 * (e + 0.1)


def _published_terms(r: np.ndarray) -> tuple[float, float, float, int]:
    sr = float(np.mean(r) / np.std(r, ddof=1))
    sk = float(sps.skew(r))
    ku = float(sps.kurtosis(r, fisher=False))
    return sr, sk, ku, r.size


def _psr_published(r: np.ndarray, sr_star: float) -> float:
    sr, sk, ku, n = _published_terms(r)
    return float(
        sps.norm.cdf(
            (sr - sr_star) * math.sqrt(n - 1) / math.sqrt(1 - sk * sr + (ku - 1) / 4 * sr**2)
        )
    )


def _emax_published(n_trials: int, v: float) -> float:
    return math.sqrt(v) * (
        (1 - EULER_GAMMA) * sps.norm.ppf(1 - 1 / n_trials)
        + EULER_GAMMA * sps.norm.ppf(1 - 1 / (n_trials * math.e))
    )


def test_sample_is_non_normal():
    r = _skewed_sample()
    _, sk, ku, _ = _published_terms(r)
    assert sk < -0.1 and ku > 3.5  # so the skew/kurtosis terms are actually exercised


@pytest.mark.parametrize("sr_star", [0.0, 0.02, 0.08])
def test_psr_matches_published_formula(sr_star):
    r = _skewed_sample()
    assert S.probabilistic_sharpe_ratio(r, sr_star) == pytest.approx(
        _psr_published(r, sr_star), rel=1e-10
    )


def test_psr_uses_raw_not_excess_kurtosis():
    r = _skewed_sample()
    sr, sk, ku, n = _published_terms(r)
    wrong = sps.norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(1 - sk * sr + (ku - 3 - 1) / 4 * sr**2))
    assert S.probabilistic_sharpe_ratio(r) != pytest.approx(wrong, rel=1e-6)


def test_dsr_matches_published_formula_with_given_variance():
    r = _skewed_sample()
    v = 0.002
    for n_trials in (2, 10, 100):
        expected = _psr_published(r, _emax_published(n_trials, v))
        assert S.deflated_sharpe_ratio(r, n_trials, v) == pytest.approx(expected, rel=1e-10)


def test_dsr_default_variance_is_estimator_variance():
    r = _skewed_sample()
    sr, sk, ku, n = _published_terms(r)
    v = (1 - sk * sr + (ku - 1) / 4 * sr**2) / (n - 1)
    expected = _psr_published(r, _emax_published(20, v))
    assert S.deflated_sharpe_ratio(r, 20) == pytest.approx(expected, rel=1e-10)


def test_dsr_one_trial_equals_psr_zero():
    r = _skewed_sample()
    assert S.deflated_sharpe_ratio(r, 1) == pytest.approx(S.probabilistic_sharpe_ratio(r, 0.0))
    assert S.deflated_sharpe_ratio(r, 1, 0.01) == pytest.approx(_psr_published(r, 0.0))


def test_dsr_decreases_with_trials():
    r = _skewed_sample()
    vals = [S.deflated_sharpe_ratio(r, k, 0.001) for k in (1, 2, 5, 20, 100, 1000)]
    assert all(a > b for a, b in zip(vals, vals[1:], strict=False))
    vals_default = [S.deflated_sharpe_ratio(r, k) for k in (1, 2, 5, 20, 100, 1000)]
    assert all(a > b for a, b in zip(vals_default, vals_default[1:], strict=False))


def test_expected_max_sharpe_formula_and_trivial_cases():
    assert S.expected_max_sharpe(1, 0.5) == 0.0
    assert S.expected_max_sharpe(0, 0.5) == 0.0
    assert S.expected_max_sharpe(50, 0.3) == pytest.approx(_emax_published(50, 0.3), rel=1e-12)


@pytest.mark.parametrize("n_trials", [10, 100, 1000])
def test_expected_max_sharpe_against_monte_carlo(n_trials):
    v = 0.04
    rng = np.random.default_rng(n_trials)
    reps = 4000
    mc = float(np.mean(rng.standard_normal((reps, n_trials)).max(axis=1))) * math.sqrt(v)
    assert S.expected_max_sharpe(n_trials, v) == pytest.approx(mc, rel=0.04)


def test_min_track_record_length_formula():
    r = _skewed_sample()
    sr, sk, ku, _ = _published_terms(r)
    for sr_star, level in ((0.0, 0.95), (0.01, 0.9), (0.02, 0.99)):
        z = sps.norm.ppf(level)
        expected = 1 + (1 - sk * sr + (ku - 1) / 4 * sr**2) * (z / (sr - sr_star)) ** 2
        assert S.min_track_record_length(r, sr_star, level) == pytest.approx(expected, rel=1e-10)


def test_min_track_record_length_consistent_with_psr():
    # A track record exactly MinTRL long would have PSR == level at the same moments.
    r = _skewed_sample()
    sr, sk, ku, _ = _published_terms(r)
    m = S.min_track_record_length(r, 0.0, 0.95)
    z = sr * math.sqrt(m - 1) / math.sqrt(1 - sk * sr + (ku - 1) / 4 * sr**2)
    assert sps.norm.cdf(z) == pytest.approx(0.95, rel=1e-10)


def test_min_track_record_length_inf_when_not_beating_benchmark():
    r = _skewed_sample()
    sr, *_ = _published_terms(r)
    assert S.min_track_record_length(r, sr_benchmark=sr + 1e-6) == math.inf
    assert S.min_track_record_length(-r) == math.inf


# --------------------------------------------------------------------------- Sharpe intervals


def test_sharpe_ci_analytic_matches_formula():
    r = _skewed_sample()
    sr, sk, ku, n = _published_terms(r)
    se = math.sqrt((1 - sk * sr + (ku - 1) / 4 * sr**2) / (n - 1))
    z = sps.norm.ppf(0.975)
    lo, hi = S.sharpe_ci_analytic(r)
    assert lo == pytest.approx((sr - z * se) * math.sqrt(252), rel=1e-10)
    assert hi == pytest.approx((sr + z * se) * math.sqrt(252), rel=1e-10)


def test_sharpe_ci_analytic_coverage_iid_normal():
    rng = np.random.default_rng(2024)
    n, sims, sr_pp = 500, 400, 0.08  # true annualised SR ~ 1.27
    true_ann = sr_pp * math.sqrt(252)
    samples = rng.normal(sr_pp * 0.01, 0.01, size=(sims, n))
    hits = 0
    for row in samples:
        lo, hi = S.sharpe_ci_analytic(row)
        hits += lo <= true_ann <= hi
    coverage = hits / sims
    assert 0.90 <= coverage <= 0.99, coverage


def test_sharpe_ci_analytic_width_close_to_bootstrap():
    rng = np.random.default_rng(11)
    r = rng.normal(0.0006, 0.01, 500)
    lo_a, hi_a = S.sharpe_ci_analytic(r)
    lo_b, hi_b = S.sharpe_ci_bootstrap(r, n_boot=2000, seed=1)
    w_a, w_b = hi_a - lo_a, hi_b - lo_b
    assert abs(w_a / w_b - 1) < 0.25, (w_a, w_b)
    # Both intervals cover the point estimate.
    sr_hat = np.mean(r) / np.std(r, ddof=1) * math.sqrt(252)
    assert lo_a < sr_hat < hi_a and lo_b < sr_hat < hi_b


def test_sharpe_ci_bootstrap_iid_matches_plain_monte_carlo_bootstrap():
    # mean_block=1 is the i.i.d. bootstrap; compare with a plain numpy resampling loop.
    rng = np.random.default_rng(5)
    r = rng.normal(0.0005, 0.01, 300)
    boot = np.random.default_rng(99).choice(r, size=(4000, r.size), replace=True)
    srs = boot.mean(axis=1) / boot.std(axis=1, ddof=1) * math.sqrt(252)
    lo_ref, hi_ref = np.quantile(srs, [0.025, 0.975])
    lo, hi = S.sharpe_ci_bootstrap(r, mean_block=1, n_boot=4000, seed=3)
    width_ref = hi_ref - lo_ref
    assert abs(lo - lo_ref) < 0.1 * width_ref
    assert abs(hi - hi_ref) < 0.1 * width_ref


def test_sharpe_ci_bootstrap_widens_under_autocorrelation():
    # Positively autocorrelated returns: block bootstrap interval should be wider than iid.
    rng = np.random.default_rng(8)
    e = rng.normal(0.0, 0.01, 1000)
    r = np.empty_like(e)
    r[0] = e[0]
    for t in range(1, e.size):
        r[t] = 0.5 * r[t - 1] + e[t]
    r += 0.0005
    lo1, hi1 = S.sharpe_ci_bootstrap(r, mean_block=1, seed=0)
    lo2, hi2 = S.sharpe_ci_bootstrap(r, mean_block=20, seed=0)
    assert (hi2 - lo2) > 1.3 * (hi1 - lo1)


def reference_bootstrap_indices(rng, n, n_rows, p):
    """The resampling scheme written out position by position (the engine sums blocks)."""
    new_block = rng.random((n_rows, n)) < p
    new_block[:, 0] = True
    starts = rng.integers(0, n, size=(n_rows, n))
    idx = np.empty((n_rows, n), dtype=np.int64)
    for r in range(n_rows):
        for j in range(n):
            idx[r, j] = starts[r, j] if new_block[r, j] else (idx[r, j - 1] + 1) % n
    return idx


def test_stationary_bootstrap_blocks_have_geometric_mean_length():
    # Internal check of the resampling scheme: runs of consecutive (circular) indices have
    # mean length ~ mean_block and every index is equally likely.
    n, mean_block = 400, 8
    rows, start, length = S._stationary_bootstrap_blocks(
        np.random.default_rng(0), n, 500, 1 / mean_block
    )
    assert np.array_equal(np.bincount(rows, weights=length, minlength=500), np.full(500, n))
    assert start.min() >= 0 and start.max() < n
    assert np.mean(length) == pytest.approx(mean_block, rel=0.1)
    idx = reference_bootstrap_indices(np.random.default_rng(0), n, 500, 1 / mean_block)
    counts = np.bincount(idx.ravel(), minlength=n)
    assert counts.std() / counts.mean() < 0.1


def test_bootstrap_sharpes_equal_the_resamples_written_out():
    # The block sums give each resample's Sharpe ratio as if every day were gathered.
    x = np.random.default_rng(4).normal(0.0004, 0.01, 257)
    x[10:13] = x[9]  # some repeated values
    got = S._bootstrap_sharpes(x, 300, 1 / 6, np.random.default_rng(21))
    sample = x[reference_bootstrap_indices(np.random.default_rng(21), x.size, 300, 1 / 6)]
    want = sample.mean(axis=1) / sample.std(axis=1, ddof=1)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # a resample of a constant stretch has no Sharpe ratio
    flat = S._bootstrap_sharpes(
        np.array([0.01, 0.01, 0.01, 0.02]), 2000, 1.0, np.random.default_rng(0)
    )
    values = np.array([0.01, 0.01, 0.01, 0.02])
    idx = reference_bootstrap_indices(np.random.default_rng(0), 4, 2000, 1.0)
    constant = values[idx].max(axis=1) == values[idx].min(axis=1)
    assert constant.any() and np.array_equal(np.isnan(flat), constant)


def test_sharpe_ci_bootstrap_is_deterministic_for_a_seed():
    r = np.random.default_rng(0).normal(0.0005, 0.01, 1500)
    a = S.sharpe_ci_bootstrap(r, n_boot=2000)
    assert a == S.sharpe_ci_bootstrap(r, n_boot=2000)
    assert a != S.sharpe_ci_bootstrap(r, n_boot=2000, seed=1)


def test_short_sample_sharpe_interval_is_wide():
    # 126 days with annualised SR ~1.4: the 95% interval spans about 5.6 Sharpe units.
    z = np.random.default_rng(4).standard_normal(126)
    z = (z - z.mean()) / z.std(ddof=1)
    sr_pp = 1.4 / math.sqrt(252)
    r = 0.01 * (z + sr_pp)
    assert S.sharpe_ratio(r) == pytest.approx(1.4, rel=1e-9)
    lo, hi = S.sharpe_ci_analytic(r)
    assert hi - lo > 4.0
    assert hi - lo == pytest.approx(2 * 1.96 * math.sqrt(252 / 125), rel=0.15)
    assert lo < 0 < hi  # half a year of SR 1.4 does not even establish the sign


# --------------------------------------------------------------------------- regression / IC


def test_alpha_beta_against_polyfit():
    rng = np.random.default_rng(12)
    bench = rng.normal(0.0004, 0.01, 250)
    r = 0.0002 + 0.7 * bench + rng.normal(0, 0.005, 250)
    b, a = np.polyfit(bench, r, 1)
    alpha, beta = S.alpha_beta(r, bench)
    assert beta == pytest.approx(b, rel=1e-10)
    assert alpha == pytest.approx(a * 252, rel=1e-8)


def test_alpha_beta_pairwise_nan_drop():
    rng = np.random.default_rng(13)
    bench = rng.normal(0, 0.01, 100)
    r = 0.5 * bench + rng.normal(0, 0.002, 100)
    r[[3, 40]] = np.nan
    bench[[7, 40, 90]] = np.nan
    keep = ~(np.isnan(r) | np.isnan(bench))
    b, a = np.polyfit(bench[keep], r[keep], 1)
    alpha, beta = S.alpha_beta(r, bench, periods=12)
    assert beta == pytest.approx(b, rel=1e-10)
    assert alpha == pytest.approx(a * 12, rel=1e-8, abs=1e-12)


def test_alpha_beta_length_mismatch_raises():
    with pytest.raises(ValueError):
        S.alpha_beta([0.1, 0.2, 0.3], [0.1, 0.2])


def test_ic_against_corrcoef():
    rng = np.random.default_rng(21)
    pred = rng.normal(size=500)
    target = 0.1 * pred + rng.normal(size=500)
    assert S.information_coefficient(pred, target) == pytest.approx(
        np.corrcoef(pred, target)[0, 1], rel=1e-12
    )


def test_rank_ic_against_spearmanr_with_ties_and_nans():
    rng = np.random.default_rng(22)
    pred = np.round(rng.normal(size=300), 1)  # many ties
    target = np.round(0.2 * pred + rng.normal(size=300), 1)
    pred[[5, 6]] = np.nan
    target[[6, 200]] = np.nan
    keep = ~(np.isnan(pred) | np.isnan(target))
    expected = sps.spearmanr(pred[keep], target[keep]).statistic
    assert S.rank_information_coefficient(pred, target) == pytest.approx(expected, rel=1e-12)
    expected_ic = np.corrcoef(pred[keep], target[keep])[0, 1]
    assert S.information_coefficient(pred, target) == pytest.approx(expected_ic, rel=1e-12)


# --------------------------------------------------------------------------- NaN / degenerate


def test_nans_are_dropped():
    with_nans = [np.nan, 0.01, -0.02, np.nan, 0.03, 0.0, -0.01, np.nan]
    for f in (
        S.sharpe_ratio,
        S.annual_volatility,
        S.annualised_return,
        S.total_return,
        S.cagr,
        S.max_drawdown,
        S.win_rate,
        S.sortino_ratio,
        S.calmar_ratio,
    ):
        assert f(with_nans) == pytest.approx(f(R), rel=1e-12), f.__name__
    np.testing.assert_allclose(S.equity_curve(with_nans), S.equity_curve(R))
    assert len(S.drawdown_series(with_nans)) == N


DEGENERATE = [
    [],
    [np.nan, np.nan],
    [0.01],
    [0.01, np.nan],
    [0.01] * 10,  # zero variance (rounding would otherwise give a 1e16 Sharpe)
    [0.0] * 10,
]


@pytest.mark.parametrize("r", DEGENERATE, ids=[str(i) for i in range(len(DEGENERATE))])
def test_degenerate_inputs_return_nan_without_raising(r):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarnings either
        assert math.isnan(S.sharpe_ratio(r))
        assert all(math.isnan(v) for v in S.sharpe_ci_analytic(r))
        assert all(math.isnan(v) for v in S.sharpe_ci_bootstrap(r, n_boot=50))
        assert math.isnan(S.probabilistic_sharpe_ratio(r))
        assert math.isnan(S.deflated_sharpe_ratio(r, 10))
        assert math.isnan(S.min_track_record_length(r))
        assert math.isnan(S.sortino_ratio(r))
        # Always defined when there is at least one observation:
        if len(r) == 0 or all(np.isnan(r)):
            for f in (S.annualised_return, S.total_return, S.cagr, S.max_drawdown, S.win_rate):
                assert math.isnan(f(r)), f.__name__
            assert math.isnan(S.annual_volatility(r))
            assert math.isnan(S.calmar_ratio(r))
            assert S.equity_curve(r).shape == (0,)
            assert S.drawdown_series(r).shape == (0,)


def test_constant_series_specifics():
    assert S.annual_volatility([0.01] * 10) == 0.0
    assert math.isnan(S.annual_volatility([0.01]))
    assert math.isnan(S.calmar_ratio([0.01] * 10))  # never in drawdown
    assert math.isnan(S.sortino_ratio([0.01, 0.02, 0.03]))  # no downside
    assert S.max_drawdown([0.01] * 10) == 0.0


def test_wiped_out_equity_cagr():
    assert S.cagr([0.1, -1.0, 0.2]) == -1.0
    assert S.max_drawdown([0.1, -1.0, 0.2]) == -1.0


def test_degenerate_regression_and_ic():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(math.isnan(v) for v in S.alpha_beta([0.1], [0.2]))
        assert all(math.isnan(v) for v in S.alpha_beta([0.1, 0.2, 0.3], [0.5, 0.5, 0.5]))
        assert all(math.isnan(v) for v in S.alpha_beta([np.nan] * 3, [1.0, 2.0, 3.0]))
        assert math.isnan(S.information_coefficient([1.0, 2.0], [2.0, 1.0]))  # < 3 pairs
        assert math.isnan(S.information_coefficient([1.0, 2.0, np.nan], [2.0, 1.0, 3.0]))
        assert math.isnan(S.information_coefficient([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
        assert math.isnan(S.rank_information_coefficient([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]))
        assert math.isnan(S.rank_information_coefficient([], []))


def test_invalid_arguments_raise():
    with pytest.raises(ValueError):
        S.sharpe_ci_analytic(R, level=1.5)
    with pytest.raises(ValueError):
        S.sharpe_ci_bootstrap(R, mean_block=0.5)
    with pytest.raises(ValueError):
        S.expected_max_sharpe(10, -1.0)


# --------------------------------------------------------------------------- properties


returns_strategy = st.lists(
    st.one_of(st.floats(-0.5, 0.5, allow_nan=False), st.just(float("nan"))),
    min_size=0,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(returns_strategy)
def test_properties_never_raise_and_are_consistent(r):
    dd = S.drawdown_series(r)
    eq = S.equity_curve(r)
    assert dd.shape == eq.shape
    assert np.all(dd <= 0)
    mdd = S.max_drawdown(r)
    if eq.size:
        assert mdd == pytest.approx(float(dd.min()))
        assert eq[-1] - 1 == pytest.approx(S.total_return(r), rel=1e-9, abs=1e-12)
    for f in (S.sharpe_ratio, S.sortino_ratio, S.probabilistic_sharpe_ratio):
        f(r)
    psr = S.probabilistic_sharpe_ratio(r)
    assert math.isnan(psr) or 0.0 <= psr <= 1.0
    lo, hi = S.sharpe_ci_analytic(r)
    sr = S.sharpe_ratio(r)
    if not math.isnan(lo):
        assert lo <= sr <= hi
