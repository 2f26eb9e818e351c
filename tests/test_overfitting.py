"""PBO by CSCV and White's reality check against hand computations and independent code."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from alpha_core.stats.overfitting import pbo_cscv, reality_check, stationary_bootstrap_indices


def test_pbo_of_a_hand_computed_example_where_the_in_sample_best_always_loses():
    # blocks: rows 0-1 and 2-3. In block 0 A has Sharpe 1.414 and B 0.707; in block 1 A has
    # -0.707 and B 1.414. Each split's in-sample best is the out-of-sample worst: rank 1 of 2,
    # w = 1/3, logit log(1/2), so PBO = 1.
    a = [0.01, 0.03, 0.00, -0.02]
    b = [0.00, 0.01, 0.01, 0.03]
    result = pbo_cscv(np.column_stack([a, b]), n_blocks=2)
    assert result.pbo == 1.0
    assert result.n_splits == 2
    np.testing.assert_allclose(result.logits, [math.log(0.5)] * 2)


def test_pbo_is_zero_when_one_trial_dominates_every_half():
    a = [0.01, 0.03, 0.02, 0.04]  # Sharpe 1.414 in both blocks
    b = [0.00, 0.01, 0.00, 0.01]  # 0.707 in both
    result = pbo_cscv(np.column_stack([a, b]), n_blocks=2)
    assert result.pbo == 0.0
    np.testing.assert_allclose(result.logits, [math.log(2.0)] * 2)


def test_pbo_of_pure_noise_trials_is_about_one_half():
    rng = np.random.default_rng(7)
    values = [pbo_cscv(rng.normal(0, 0.01, (600, 20)), n_blocks=10).pbo for _ in range(12)]
    assert 0.35 < float(np.mean(values)) < 0.65


def test_pbo_is_low_when_one_trial_has_a_real_edge():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.01, (1000, 10))
    x[:, 4] += 0.004
    assert pbo_cscv(x, n_blocks=10).pbo < 0.05


def _naive_reality_check(d: np.ndarray, idx: np.ndarray) -> float:
    """White's statistic written as loops, on the same resampled rows."""
    t, k = d.shape
    means = [sum(d[:, j]) / t for j in range(k)]
    stat = max(math.sqrt(t) * m for m in means)
    hits = 0
    for row in idx:
        best = max(math.sqrt(t) * (sum(d[row, j]) / t - means[j]) for j in range(k))
        hits += best >= stat
    return hits / len(idx)


def test_the_reality_check_matches_a_loop_computation_on_a_fixed_example():
    rng = np.random.default_rng(1)
    d = rng.normal(0.0005, 0.01, (120, 5))
    idx = stationary_bootstrap_indices(120, 300, 5.0, np.random.default_rng(2))
    assert reality_check(d, indices=idx) == pytest.approx(_naive_reality_check(d, idx))


def test_stationary_bootstrap_blocks_run_on_with_the_given_mean_length():
    idx = stationary_bootstrap_indices(500, 200, 10.0, np.random.default_rng(0))
    steps = np.diff(idx, axis=1)
    continued = (steps == 1) | (steps == -499)
    assert continued.mean() == pytest.approx(0.9, abs=0.01)
    assert idx.min() >= 0 and idx.max() < 500


def test_a_real_edge_passes_the_reality_check_and_noise_does_not():
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 0.01, (750, 8))
    noise -= noise.mean(axis=0)  # no trial beats the benchmark on average
    assert reality_check(noise, seed=1) > 0.5
    edge = noise.copy()
    edge[:, 2] += 0.003
    assert reality_check(edge, seed=1) < 0.01


@pytest.mark.skipif(importlib.util.find_spec("arch") is None, reason="arch is not installed")
def test_the_reality_check_agrees_with_arch_spa_without_studentisation():
    from arch.bootstrap import SPA

    rng = np.random.default_rng(9)
    d = rng.normal(0.0004, 0.01, (500, 6))
    bench = rng.normal(0, 0.01, 500)
    strategies = bench[:, None] + d
    spa = SPA(-bench, -strategies, reps=4000, block_size=10, studentize=False, seed=5)
    spa.compute()
    ours = reality_check(strategies - bench[:, None], n_boot=4000, mean_block=10, seed=5)
    assert ours == pytest.approx(float(spa.pvalues["upper"]), abs=0.03)
