"""Model types as plug-ins: each built-in type passes the conformance suite, and the numbers
of the linear and ensemble types match independent computations."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from alpha_core.base import plugins
from alpha_core.desk.model_conformance import check_model_type_end_to_end
from alpha_core.features.library import LABEL
from alpha_core.models import base
from alpha_core.models.conformance import FEATURES, _rows, demo_panel
from alpha_core.models.ensemble.model import EnsembleParams
from alpha_core.models.linear.model import LinearParams


@pytest.mark.parametrize("name", ["lightgbm", "linear", "ensemble"])
def test_built_in_type_passes_the_conformance_suite(name, tmp_path):
    done = check_model_type_end_to_end(name, tmp_path)
    assert {"save/load", "contributions", "walk-forward", "explain", "select valid"} <= set(done)
    assert "desk book" in done


def test_built_in_types_are_discovered_through_entry_points():
    declared = plugins.entry_points("model_types")
    assert {"lightgbm", "linear", "ensemble"} <= set(declared)
    assert base.model_types()[:3] == ("lightgbm", "linear", "ensemble")
    owners = base.param_owners()
    assert owners["ridge_alpha"] == "linear" and owners["n_estimators"] == "lightgbm"


def _zscore(x: np.ndarray, dates: np.ndarray, clip: float) -> np.ndarray:
    out = np.zeros_like(x)
    for d in np.unique(dates):
        m = dates == d
        block = x[m]
        sd = block.std(axis=0)
        z = np.where(sd > 0, (block - block.mean(axis=0)) / np.where(sd > 0, sd, 1), 0.0)
        out[m] = np.clip(z, -clip, clip)
    return out


def test_the_ridge_matches_lstsq_on_the_per_date_z_scores():
    train, _, test = _rows(demo_panel(seed=5))
    params = LinearParams(ridge_alpha=0.3, zscore_clip=2.5)
    model = base.fit_model(train, FEATURES, params, 0, model_type="linear")
    x = train.select(FEATURES).to_numpy().astype(np.float64)
    z = _zscore(x, train["date"].to_numpy(), 2.5)
    n, k = z.shape
    y = train[LABEL].to_numpy()
    zc, yc = z - z.mean(axis=0), y - y.mean()
    a = np.vstack([zc / np.sqrt(n), np.sqrt(0.3) * np.eye(k)])
    b = np.concatenate([yc / np.sqrt(n), np.zeros(k)])
    w = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(model.weights, w, rtol=1e-8, atol=1e-12)
    zt = _zscore(test.select(FEATURES).to_numpy().astype(np.float64), test["date"].to_numpy(), 2.5)
    want = (zt - z.mean(axis=0)) @ w + y.mean()
    np.testing.assert_allclose(model.predict(test), want, rtol=1e-8, atol=1e-12)


def test_the_linear_model_is_scale_free_across_dates():
    train, _, test = _rows(demo_panel(seed=6))
    model = base.fit_model(train, FEATURES, LinearParams(), 0, model_type="linear")
    day = test.filter(pl.col("date") == test["date"].max())
    scaled = day.with_columns(pl.col(f) * 7.0 + 3.0 for f in FEATURES)
    np.testing.assert_allclose(model.predict(scaled), model.predict(day), rtol=1e-9)


def test_ensemble_weights_follow_positive_validation_rank_ic():
    from alpha_core.stats.scoring import mean_daily_rank_ic

    train, valid, test = _rows(demo_panel(seed=7))
    params = EnsembleParams(("linear", "linear:strong", "lightgbm:fast"))
    model = base.fit_model(train, FEATURES, params, 1, model_type="ensemble", valid=valid)
    ics = [mean_daily_rank_ic(valid["date"], m.predict(valid), valid[LABEL]) for m in model.members]
    positive = np.clip(np.nan_to_num(ics), 0, None)
    assert positive.sum() > 0
    np.testing.assert_allclose(model.weights, positive / positive.sum())
    assert model.meta["weighting"] == "proportional to positive validation rank IC"
    want = sum(
        w * m.predict(test) for w, m in zip(positive / positive.sum(), model.members, strict=True)
    )
    np.testing.assert_allclose(model.predict(test), want, rtol=1e-12)


def test_fit_model_gives_valid_rows_only_to_validation_aware_types():
    train, valid, _ = _rows(demo_panel(seed=8))
    model = base.fit_model(train, FEATURES, None, 0, model_type="linear", valid=valid)
    assert model.meta["params"] == {"ridge_alpha": 0.01, "zscore_clip": 3.0}
