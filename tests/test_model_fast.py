"""The legacy validation tail with early stopping, and the fast / seed presets (no timing asserts).

Early stopping on the run's validation window is tested in tests/test_selection.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from conftest import make_panel

from alpha_core.config import FAST_PRESET, SEED_PRESET, ModelParams
from alpha_core.features.library import FEATURE_NAMES, LABEL_END, build_features
from alpha_core.models.base import (
    fit_model,
    load_model,
    save_model,
    split_validation_tail,
    training_rows,
)


@pytest.fixture(scope="module")
def train():
    panel = make_panel(n_assets=10, n_days=220, seed=11)
    feats = build_features(panel, label="open_to_open")
    dates = panel["date"].unique().sort()
    return training_rows(feats, dates[0], dates[199], dates[200], FEATURE_NAMES)


def test_validation_tail_is_the_last_dates_and_purged_by_the_horizon(train):
    fit, valid = split_validation_tail(train, 0.2)
    split = valid["date"].min()
    assert fit["date"].max() < split and fit[LABEL_END].max() < split
    n_dates = train["date"].n_unique()
    assert valid["date"].n_unique() == round(n_dates * 0.2)
    # open_to_open: the 2 decision dates before the tail drop out of the fit rows
    assert fit["date"].n_unique() == n_dates - valid["date"].n_unique() - 2


def test_early_stopping_keeps_the_best_iteration(train, tmp_path):
    params = ModelParams(
        n_estimators=200,
        learning_rate=0.3,
        num_leaves=8,
        valid_fraction=0.2,
        early_stopping_rounds=5,
    )
    model = fit_model(train, FEATURE_NAMES, params, seed=3)
    best = model.meta["best_iteration"]
    assert 1 <= best < 200
    assert model.booster.num_trees() == best
    save_model(model, tmp_path)
    again = load_model(tmp_path)
    np.testing.assert_array_equal(again.predict(train), model.predict(train))


def test_defaults_are_the_seed_configuration():
    assert ModelParams() == SEED_PRESET
    assert SEED_PRESET.valid_fraction == 0 and SEED_PRESET.early_stopping_rounds == 0
    FAST_PRESET.validate()


def test_early_stopping_needs_validation_rows(train):
    """The fast preset stops on the run's validation window (issue 9), no longer on a tail of
    its own: fitted without validation rows or a legacy tail, it is refused, naming both."""
    assert FAST_PRESET.valid_fraction == 0 and FAST_PRESET.early_stopping_rounds > 0
    params = dataclasses.replace(FAST_PRESET, n_estimators=20)
    with pytest.raises(ValueError, match=r"validation window .* or model.valid_fraction"):
        fit_model(train, FEATURE_NAMES, params, seed=1)


def test_train_rmse_from_training_scores_equals_predicting(train):
    """fit_model reads LightGBM's own training scores: the same bits as predicting."""
    from alpha_core.features.library import LABEL
    from alpha_core.models.base import feature_matrix
    from alpha_core.models.lightgbm.model import _training_scores, lgb_params

    params = ModelParams(n_estimators=30, num_leaves=8)
    x = feature_matrix(train, FEATURE_NAMES)
    y = train[LABEL].to_numpy()
    import lightgbm as lgb

    dataset = lgb.Dataset(x, label=y, feature_name=list(FEATURE_NAMES), params={"verbosity": -1})
    booster = lgb.train(lgb_params(params, 1), dataset, 30, keep_training_booster=True)
    scores = _training_scores(booster, len(y))
    assert scores is not None
    np.testing.assert_array_equal(scores, booster.predict(x))
    model = fit_model(train, FEATURE_NAMES, params, seed=1)
    fitted = model.predict(train)
    assert model.meta["train_rmse"] == float(np.sqrt(np.mean((fitted - y) ** 2)))


def test_arrow_fed_dataset_trains_the_same_model_as_a_numpy_matrix(train):
    """The Dataset is fed as Arrow columns (lgbm._dataset); with missing values (nulls and
    NaNs) it must give the very model a float32 numpy matrix gives."""
    import lightgbm as lgb
    import polars as pl

    from alpha_core.features.library import LABEL, is_categorical
    from alpha_core.models.base import feature_matrix
    from alpha_core.models.lightgbm.model import _dataset, lgb_params

    names = FEATURE_NAMES
    holes = train.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(None)
        .otherwise(pl.col(names[0]))
        .alias(names[0]),
        pl.when(pl.int_range(pl.len()) % 5 == 0)
        .then(float("nan"))
        .otherwise(pl.col(names[1]))
        .alias(names[1]),
    )
    assert holes[names[0]].null_count() > 0 and holes[names[1]].is_nan().sum() > 0
    params = dataclasses.replace(FAST_PRESET, early_stopping_rounds=0, n_estimators=20)
    y = holes[LABEL].to_numpy()
    from_arrow = lgb.train(lgb_params(params, 3), _dataset(holes, y, names, params, 3), 20)
    matrix = lgb.Dataset(
        feature_matrix(holes, names),
        label=y,
        feature_name=list(names),
        categorical_feature=[f for f in names if is_categorical(f)],
        params={"max_bin": params.max_bin, "verbosity": -1},
    )
    from_numpy = lgb.train(lgb_params(params, 3), matrix, 20)
    assert from_arrow.model_to_string() == from_numpy.model_to_string()


def test_fits_sharing_a_binned_dataset_give_the_models_of_fresh_ones(train):
    """Inside reusing_datasets, fits on the same values reuse one binned Dataset with their
    own label: every model must be the one a fresh Dataset gives, whatever the booster
    settings or label; another seed or bin count must not reuse it."""
    from alpha_core.features.library import LABEL
    from alpha_core.models.lightgbm import model as lgbm

    base = dataclasses.replace(FAST_PRESET, early_stopping_rounds=0, n_estimators=15)
    zscored = train.with_columns(
        ((pl.col(LABEL) - pl.col(LABEL).mean().over("date")) / pl.col(LABEL).std().over("date"))
        .fill_nan(0.0)
        .fill_null(0.0)
    )
    fits = [
        (train, base, 1),
        (zscored, dataclasses.replace(base, num_leaves=7, feature_fraction=0.5), 1),
        (train, dataclasses.replace(base, max_bin=31), 1),
        (train, base, 2),
        (zscored, base, 1),
    ]

    def text(model):
        return model.booster.model_to_string()

    fresh = [text(fit_model(rows, FEATURE_NAMES, p, seed)) for rows, p, seed in fits]
    with lgbm.reusing_datasets():
        shared = [text(fit_model(rows, FEATURE_NAMES, p, seed)) for rows, p, seed in fits]
        # one Dataset per distinct (values, bins, seed): the label never splits them
        assert len(lgbm._DATASETS.entries) == 3
    assert shared == fresh
    assert len(lgbm._DATASETS.entries) == 0  # emptied on leaving the block
    with lgbm.reusing_datasets(keep=True):
        fit_model(train, FEATURE_NAMES, base, 1)
    assert len(lgbm._DATASETS.entries) == 1  # a worker keeps it for its next trial
    lgbm._DATASETS.entries.clear()


def test_prediction_in_blocks_is_one_call(train, monkeypatch):
    """Scoring in blocks (a long test window) gives the bits of one call over all rows."""
    import alpha_core.models.lightgbm.model as lgbm
    from alpha_core.models.base import feature_matrix

    model = fit_model(train, FEATURE_NAMES, ModelParams(n_estimators=20, num_leaves=8), seed=1)
    whole = model.booster.predict(feature_matrix(train, FEATURE_NAMES))
    monkeypatch.setattr(lgbm, "PREDICT_BLOCK", 397)  # blocks that end mid-date
    assert train.height > 3 * 397
    np.testing.assert_array_equal(model.predict(train), whole)
