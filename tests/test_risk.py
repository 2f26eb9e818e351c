"""The factor risk model: no lookahead, its regression, its EWMA, its algebra, its bias."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.linalg import null_space

from alpha_core.portfolio.risk import RiskSettings, bias_report, estimate_risk
from alpha_core.portfolio.risk.estimate import factor_covariance
from alpha_core.portfolio.risk.statistical import recompute_rows
from tests.conftest import make_panel

SMALL = RiskSettings(
    risk_min_history=20,
    risk_size_window=20,
    risk_momentum_window=60,
    risk_momentum_skip=5,
    risk_liquidity_window=10,
    risk_min_factor_days=20,
    risk_min_regression_assets=8,
    risk_statistical_window=60,
    risk_statistical_with_groups=True,
)
PCA = tuple(f"pca{j + 1}" for j in range(SMALL.risk_statistical_factors))


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return make_panel(n_assets=24, n_days=260, seed=3, stagger=6)


@pytest.fixture(scope="module")
def model(panel):
    return estimate_risk(panel, SMALL)


def _by_asset(model, i: int) -> dict[str, tuple]:
    """Everything the model holds for date row i, keyed by asset."""
    return {
        a: (model.exposures[i, j], model.specific_var[i, j])
        for j, a in enumerate(model.assets)
        if model.covered[i, j]
    }


@pytest.mark.parametrize("how", ["delete", "alter"])
def test_nothing_at_or_before_a_cut_date_depends_on_later_bars(panel, model, how):
    rng = np.random.default_rng(11 if how == "delete" else 12)
    dates = np.unique(panel["date"].to_numpy())
    cut = dates[rng.integers(140, len(dates) - 20)]  # after the first statistical loadings
    later = pl.col("date") > pl.lit(cut)
    if how == "delete":
        changed = panel.filter(~later)
    else:
        noise = pl.Series(rng.lognormal(0, 0.3, panel.height))
        changed = panel.with_columns(
            *(
                pl.when(later).then(pl.col(c) * noise).otherwise(pl.col(c))
                for c in ("close", "volume")
            )
        )
    other = estimate_risk(changed, SMALL)
    before = model.dates <= cut.astype("datetime64[D]")
    assert np.abs(model.exposures[before][..., -len(PCA) :]).max() > 0, "statistical loadings"
    for i in np.flatnonzero(model.dates <= cut.astype("datetime64[D]")):
        assert other.dates[i] == model.dates[i]
        np.testing.assert_array_equal(other.ready[i], model.ready[i])
        np.testing.assert_allclose(other.factor_cov[i], model.factor_cov[i], rtol=1e-12, atol=0)
        mine, theirs = _by_asset(model, i), _by_asset(other, i)
        assert mine.keys() == theirs.keys()
        for a in mine:
            np.testing.assert_allclose(theirs[a][0], mine[a][0], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(theirs[a][1], mine[a][1], rtol=1e-12, atol=0)


def test_factor_returns_match_an_independent_constrained_wls(model):
    t = len(model.dates) - 5
    X = model.exposures[t - 1]
    r = model.returns[t]
    use = model.covered[t - 1] & np.isfinite(r)
    X, r, w = X[use], r[use], model.weights[t - 1, use]
    groups = [j for j, f in enumerate(model.factors) if f.startswith("sector:")]
    assert groups, "make_panel has sectors"
    constraint = np.zeros((1, X.shape[1]))
    constraint[0, groups] = [(w * X[:, 0] * X[:, j]).sum() for j in groups]
    basis = null_space(constraint)
    root = np.sqrt(w)
    theta = np.linalg.lstsq(root[:, None] * (X @ basis), root * r, rcond=None)[0]
    expected = basis @ theta
    np.testing.assert_allclose(model.factor_returns[t], expected, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(model.specific_returns[t, use], r - X @ expected, atol=1e-12)


def test_ewma_factor_covariance_matches_pandas(panel):
    model = estimate_risk(
        panel, replace(SMALL, risk_noise_correction=False, risk_regime_halflife=0.0)
    )
    f = model.factor_returns
    h = SMALL.risk_factor_halflife
    frame = pd.DataFrame(f)
    k = f.shape[1]
    ours = factor_covariance(f, h)
    for a in range(k):
        for b in range(a, k):
            theirs = (frame[a] * frame[b]).ewm(halflife=h, adjust=True, ignore_na=False).mean()
            np.testing.assert_allclose(ours[:, a, b], theirs.to_numpy(), rtol=1e-10, atol=1e-18)
    np.testing.assert_allclose(model.factor_cov, ours)


def test_volatility_regime_adjustment_matches_an_independent_computation(panel):
    """Risk is scaled by the EWMA (pandas) of each day's mean squared z of the realised
    returns against the day-before forecast (capped at 5 sd); specific z weighted by the
    regression weights."""
    plain = estimate_risk(
        panel, replace(SMALL, risk_noise_correction=False, risk_regime_halflife=0.0)
    )
    h = 42.0
    adjusted = estimate_risk(
        panel, replace(SMALL, risk_noise_correction=False, risk_regime_halflife=h)
    )
    var = np.einsum("tkk->tk", plain.factor_cov)
    prior = pd.DataFrame(var).shift(1).to_numpy()
    z2 = np.minimum(plain.factor_returns**2 / prior, 25.0)
    ok = np.isfinite(z2) & (prior > 1e-12)
    daily = pd.Series(
        np.where(ok.any(axis=1), np.nanmean(np.where(ok, z2, np.nan), axis=1), np.nan)
    )
    mult = daily.ewm(halflife=h, adjust=True, ignore_na=False).mean().fillna(1.0).to_numpy()
    np.testing.assert_allclose(
        adjusted.factor_cov, plain.factor_cov * mult[:, None, None], rtol=1e-9
    )
    ratio = adjusted.specific_var / plain.specific_var
    same_day = np.nanmax(ratio, axis=1) - np.nanmin(ratio, axis=1)
    assert np.nanmax(same_day) < 1e-9  # one multiplier a day for every name
    assert np.nanmax(np.abs(ratio - 1)) > 0.05  # and it moves


def test_variance_in_factor_form_equals_the_full_matrix(model):
    day = model.dates[-1]
    snap = model.at(day)
    rng = np.random.default_rng(0)
    w = rng.normal(size=len(snap.assets))
    cov = snap.cov()
    assert cov.shape == (len(snap.assets),) * 2
    np.testing.assert_allclose(snap.variance(w), w @ cov @ w, rtol=1e-12)
    many = rng.normal(size=(len(snap.assets), 3))
    np.testing.assert_allclose(snap.variance(many), np.diag(many.T @ cov @ many), rtol=1e-12)
    full = np.zeros(len(model.assets))
    full[[model.assets.index(a) for a in snap.assets]] = w
    batch = model.predicted_variance(np.tile(full, (len(model.dates), 1)))
    np.testing.assert_allclose(batch[-1], snap.variance(w), rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_short_histories_get_no_risk_row_and_no_metadata_no_group_factor(panel, model):
    first = panel.group_by("asset").agg(pl.col("date").min()).sort("date")
    late = first["asset"][-1]
    j = model.assets.index(late)
    listed = int(np.flatnonzero(model.dates == np.datetime64(first["date"][-1], "D"))[0])
    assert not model.covered[: listed + SMALL.risk_min_history, j].any()
    assert model.covered[listed + SMALL.risk_min_history, j]
    bare = estimate_risk(panel.drop("sector", "asset_class"), SMALL)
    assert bare.factors == (
        "market",
        "beta",
        "size",
        "momentum",
        "reversal",
        "week_reversal",
        "volatility",
        "liquidity",
        *PCA,
    )
    grouped = estimate_risk(panel, replace(SMALL, risk_statistical_with_groups=False))
    assert not any(f.startswith("pca") for f in grouped.factors)
    with pytest.raises(ValueError, match="not ready"):
        model.at(model.dates[5])
    tables = model.factor_returns_table(), model.exposures_table(), model.specific_table()
    assert tables[0].columns == ["date", *model.factors]
    assert tables[1].height == int(model.covered.sum())


def simulated_panel(
    n_assets: int = 150, n_days: int = 900, seed: int = 5, sector_vol: float = 0.4
) -> pl.DataFrame:
    """Returns from a known factor model (market with betas, 5 sectors of daily volatility
    ``sector_vol`` in units of the name's scale, one style factor on a persistent
    characteristic, Gaussian specific noise; vols vary by name)."""
    rng = np.random.default_rng(seed)
    sector = rng.integers(0, 5, n_assets)
    beta = rng.uniform(0.5, 1.5, n_assets)
    style = rng.normal(size=n_assets)
    vol = rng.uniform(0.01, 0.03, n_assets)
    market = rng.normal(0, 0.6, n_days)
    sectors = rng.normal(0, sector_vol, (n_days, 5))
    styles = rng.normal(0, 0.3, n_days)
    common = beta * market[:, None] + sectors[:, sector] + style * styles[:, None]
    returns = vol * (common + rng.normal(0, 0.7, (n_days, n_assets)))
    close = 50 * np.cumprod(1 + returns, axis=0)
    volume = rng.lognormal(13, 0.3, (n_days, n_assets)) * np.exp(style)[None, :]
    dates = pd.bdate_range("2015-01-01", periods=n_days).to_numpy().astype("datetime64[D]")
    return pl.DataFrame(
        {
            "date": np.repeat(dates, n_assets),
            "asset": np.tile([f"S{i:03d}" for i in range(n_assets)], n_days),
            "open": close.ravel(),
            "high": close.ravel() * 1.01,
            "low": close.ravel() * 0.99,
            "close": close.ravel(),
            "volume": volume.ravel(),
            "sector": np.tile([f"G{g}" for g in sector], n_days),
        }
    ).sort("asset", "date")


def test_bias_statistics_are_near_one_on_a_simulated_factor_panel():
    model = estimate_risk(simulated_panel(), replace(RiskSettings(), risk_min_factor_days=40))
    report = bias_report(model, start=dt.date(2016, 1, 1), n_random=20)
    assert report["days"] > 400
    assert 0.9 <= report["random_median"] <= 1.1, report
    assert 0.9 <= report["single_name_median"] <= 1.1, report
    assert report["single_name_in_band"] >= 0.9, report
    for key in ("momentum5_quintile", "momentum20_quintile", "momentum60_quintile"):
        assert 0.8 <= report[key] <= 1.2, report


def test_statistical_loadings_are_an_independent_svd_of_the_window_and_held(panel, model):
    base = estimate_risk(panel, replace(SMALL, risk_statistical_factors=0))
    W, K = SMALL.risk_statistical_window, len(PCA)
    starts = recompute_rows(model.dates)
    t, nxt = starts[-3], starts[-2]
    assert model.dates[t].astype("datetime64[M]") != model.dates[t - 1].astype("datetime64[M]")
    scale = base.exposures[..., 0]  # vol-scaled: the market loading is the name's volatility
    with np.errstate(invalid="ignore", divide="ignore"):
        e = base.specific_returns[t - W + 1 : t + 1] / scale[t - W : t]
    e[~np.isfinite(e)] = np.nan
    keep = np.isfinite(e).sum(axis=0) >= W / 2
    _, sv, vt = np.linalg.svd(np.nan_to_num(e[:, keep]), full_matrices=False)
    assert np.all(np.diff(sv[: K + 1]) < -1e-6 * sv[0]), "distinct singular values"
    expected = np.zeros((len(model.assets), K))
    expected[keep] = vt[:K].T * np.sqrt(keep.sum())
    columns = [model.factors.index(f) for f in PCA]
    for i in range(t, nxt):
        rows = model.covered[i]
        got = model.exposures[i][rows][:, columns] / scale[i, rows, None]
        want = expected[rows]
        signs = np.sign((got * want).sum(axis=0))
        np.testing.assert_allclose(got, want * signs, rtol=1e-7, atol=1e-8)


def test_statistical_factors_capture_hidden_blocks():
    panel = simulated_panel(sector_vol=1.0).drop("sector")
    reports = {
        count: bias_report(
            estimate_risk(
                panel,
                replace(RiskSettings(), risk_min_factor_days=40, risk_statistical_factors=count),
            ),
            start=dt.date(2016, 1, 1),
            n_random=20,
        )
        for count in (0, 5)
    }
    without, with_pca = reports[0], reports[5]
    # the hidden blocks: random books fall out of band without the statistical factors
    # (the quintile books load on the style factors, which now hold the 5-day book)
    assert without["random_in_band"] < 0.9, without
    for key in ("momentum5_quintile", "momentum20_quintile", "momentum60_quintile"):
        assert 0.8 <= with_pca[key] <= 1.2, with_pca
    assert 0.9 <= with_pca["random_median"] <= 1.1 and with_pca["random_in_band"] == 1.0, with_pca
    assert 0.9 <= with_pca["single_name_median"] <= 1.1, with_pca
