"""The model contract: a second model type is one class plus a registration.

A toy model type (ordinary least squares in numpy) is declared in this module alone and
registered; it then fits, predicts, saves and loads (JSON only), and is explained by
``alpha_core.evaluation.explain`` exactly like LightGBM. Its exact SHAP values are known in
closed form: ``phi_j = w_j (x_j - mean_j)``, expected value the prediction at the training mean.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import make_panel, split_config

from alpha_core.base.storage import write_json
from alpha_core.config import ModelParams
from alpha_core.evaluation import explain
from alpha_core.features.library import LABEL, build_features
from alpha_core.models.base import (
    MODEL_TYPES,
    TrainedModel,
    feature_matrix,
    fit_model,
    load_model,
    model_class,
    model_types,
    read_sidecar,
    register_model_type,
    save_model,
    training_rows,
    write_sidecar,
)
from alpha_core.signals.predictions import PREDICTION, predict_window

TOY = "toy_ols"
TOY_FEATURES = ("mom_5", "mom_20", "vol_20", "gap_pc", "hl_range_pc")


class OrdinaryLeastSquares(TrainedModel):
    """y = x . w + b fitted by least squares: the whole of a model type."""

    model_type = TOY
    input_dtype = np.float64  # least squares wants float64

    def __init__(self, features, weights, intercept, means, scales, meta=None):
        self.features = tuple(features)
        self.weights = np.asarray(weights, dtype=float)
        self.intercept = float(intercept)
        self.means = np.asarray(means, dtype=float)
        self.scales = np.asarray(scales, dtype=float)
        self.meta: dict[str, Any] = dict(meta or {})

    @classmethod
    def fit(cls, train, features, params, seed, progress=None):
        x = feature_matrix(train, features, dtype=cls.input_dtype)
        y = train[LABEL].to_numpy()
        means, y_mean = x.mean(axis=0), y.mean()
        weights = np.linalg.lstsq(x - means, y - y_mean, rcond=None)[0]
        intercept = y_mean - means @ weights
        if progress:
            progress(1, 1)
        meta = {
            "params": asdict(params),
            "seed": seed,
            "n_train_rows": train.height,
            "train_start": str(train["date"].min()),
            "train_end": str(train["date"].max()),
            "train_rmse": float(np.sqrt(np.mean((x @ weights + intercept - y) ** 2))),
        }
        return cls(features, weights, intercept, means, x.std(axis=0), meta)

    def predict(self, frame):
        return (
            feature_matrix(frame, self.features, dtype=self.input_dtype) @ self.weights
            + self.intercept
        )

    def contributions(self, x):
        phi = (x - self.means) * self.weights
        expected = np.full((x.shape[0], 1), self.means @ self.weights + self.intercept)
        return np.hstack([phi, expected])

    def importance(self):
        return pl.DataFrame(
            {"feature": list(self.features), "importance": np.abs(self.weights) * self.scales}
        )

    def describe(self):
        return {
            "contributions_method": "exact linear SHAP, w_j (x_j - mean_j)",
            "importance_measure": "|weight| x sd",
        }

    def save(self, directory: Path, stem: str) -> None:
        write_json(
            directory / f"{stem}.weights.json",
            {
                "weights": self.weights.tolist(),
                "intercept": self.intercept,
                "means": self.means.tolist(),
                "scales": self.scales.tolist(),
            },
        )
        write_sidecar(self, directory, stem)

    @classmethod
    def load(cls, directory: Path, stem: str):
        features, meta = read_sidecar(directory, stem)
        w = json.loads((directory / f"{stem}.weights.json").read_text())
        return cls(features, w["weights"], w["intercept"], w["means"], w["scales"], meta)


@pytest.fixture(scope="module", autouse=True)
def toy_registered():
    register_model_type(OrdinaryLeastSquares)
    yield
    MODEL_TYPES.pop(TOY, None)


@pytest.fixture(scope="module")
def data():
    panel = make_panel(n_assets=10, n_days=240, seed=7)
    feats = build_features(panel, label="open_to_open")
    dates = panel["date"].unique().sort()
    config = split_config(dates, 180, features=TOY_FEATURES)
    train = training_rows(feats, dates[0], dates[179], dates[180], TOY_FEATURES)
    return feats, train, config


@pytest.fixture(scope="module")
def toy(data):
    _, train, _ = data
    steps: list[tuple[int, int]] = []
    model = fit_model(
        train,
        TOY_FEATURES,
        ModelParams(),
        seed=0,
        progress=lambda i, n: steps.append((i, n)),
        model_type=TOY,
    )
    assert steps == [(1, 1)]
    return model


def test_registration_makes_the_type_available():
    assert model_types()[0] == "lightgbm" and TOY in model_types()
    assert model_class(TOY) is OrdinaryLeastSquares
    register_model_type(OrdinaryLeastSquares)  # the same class again: no-op


def test_fit_dispatches_to_the_registered_type(data, toy):
    _, train, _ = data
    assert isinstance(toy, OrdinaryLeastSquares)
    x = feature_matrix(train, TOY_FEATURES, dtype=np.float64)
    y = train[LABEL].to_numpy()
    # an independent fit: least squares with an explicit intercept column
    coef = np.linalg.lstsq(np.column_stack([x, np.ones(len(x))]), y, rcond=None)[0]
    np.testing.assert_allclose(toy.weights, coef[:-1], rtol=1e-7)
    np.testing.assert_allclose(toy.predict(train), x @ coef[:-1] + coef[-1], rtol=1e-7, atol=1e-12)
    assert toy.meta["n_train_rows"] == train.height
    assert toy.meta["train_rmse"] == pytest.approx(
        np.sqrt(np.mean((x @ coef[:-1] + coef[-1] - y) ** 2))
    )


def test_save_and_load_round_trip_through_json(data, toy, tmp_path):
    feats, _, config = data
    save_model(toy, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.weights.json"]
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar["model_type"] == TOY and sidecar["features"] == list(TOY_FEATURES)
    again = load_model(tmp_path)
    assert type(again) is OrdinaryLeastSquares
    assert again.features == toy.features and again.meta == toy.meta
    rows = feats.filter(pl.col("date") >= config.test_start).drop_nulls(list(TOY_FEATURES))
    np.testing.assert_array_equal(again.predict(rows), toy.predict(rows))


def test_contributions_are_exact_linear_shap(data, toy):
    feats, _, config = data
    rows = feats.filter(pl.col("date") >= config.test_start).drop_nulls(list(TOY_FEATURES))
    x = feature_matrix(rows, TOY_FEATURES, dtype=np.float64)
    phi = explain.contributions(toy, x)
    assert phi.shape == (rows.height, len(TOY_FEATURES) + 1)
    np.testing.assert_allclose(phi.sum(axis=1), toy.predict(rows), rtol=1e-9, atol=1e-12)
    at_mean = pl.DataFrame({f: [m] for f, m in zip(TOY_FEATURES, toy.means, strict=True)})
    np.testing.assert_allclose(phi[:, -1], toy.predict(at_mean)[0], rtol=1e-12)
    assert explain.contributions(toy, x[:0]).shape == (0, len(TOY_FEATURES) + 1)


def test_importance_table_uses_the_models_measure(toy):
    table = explain.gain_importance(toy)
    want = np.abs(toy.weights) * toy.scales
    assert table["gain_share"].sum() == pytest.approx(1.0)
    top = int(np.argmax(want))
    assert table.row(0, named=True)["feature"] == TOY_FEATURES[top]
    assert table.row(0, named=True)["gain_share"] == pytest.approx(want[top] / want.sum())


def test_explain_compute_works_with_the_toy_type(data, toy, tmp_path):
    feats, _, config = data
    exp = explain.compute(toy, feats, config, sample_size=150, seed=2)
    preds = predict_window(toy, feats, config.test_start, config.test_end)
    joined = exp.test.join(preds, on=["date", "asset"], suffix="_stored")
    assert joined.height == preds.height == exp.test.height
    np.testing.assert_allclose(
        joined[PREDICTION].to_numpy(), joined[PREDICTION + "_stored"].to_numpy(), atol=1e-12
    )
    assert exp.meta["model_type"] == TOY
    assert exp.meta["method"] == "exact linear SHAP, w_j (x_j - mean_j)"
    assert exp.meta["sample_rows"] == 150 < exp.meta["sample_population"]
    imp = explain.importance_table(exp.test, toy, exp.sample, exp.meta["sample_population"])
    assert set(imp["feature"]) == set(TOY_FEATURES)
    shares = explain.importance_shares(imp, exp.meta["importance_measure"])
    assert set(shares["measure"]) == {"mean |SHAP|, test", "|weight| x sd"}
    explain.save_cached(tmp_path, exp)
    cached = explain.load_cached(tmp_path)
    assert cached is not None and cached.test.equals(exp.test) and cached.meta == exp.meta


def test_a_sidecar_without_model_type_is_lightgbm(data, tmp_path):
    _, train, _ = data
    model = fit_model(train, TOY_FEATURES, ModelParams(n_estimators=5, num_leaves=4), seed=0)
    save_model(model, tmp_path)
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar.pop("model_type") == "lightgbm"
    (tmp_path / "model.json").write_text(json.dumps(sidecar))  # as saved before the contract
    again = load_model(tmp_path)
    assert again.model_type == "lightgbm" and again.meta == model.meta
    np.testing.assert_array_equal(again.predict(train), model.predict(train))


def test_registry_refuses_clashes_and_unknown_types():
    class Impostor(OrdinaryLeastSquares):
        model_type = "lightgbm"

    with pytest.raises(ValueError, match="'lightgbm' is already registered"):
        register_model_type(Impostor)

    class Unfinished(TrainedModel):
        model_type = "unfinished"

    with pytest.raises(TypeError, match="Unfinished leaves abstract methods unimplemented"):
        register_model_type(Unfinished)
    known = r"unknown model type 'nope' \(known: lightgbm, linear, ensemble, toy_ols"
    with pytest.raises(ValueError, match=known):
        fit_model(pl.DataFrame({"x": [1]}), ("x",), ModelParams(), seed=0, model_type="nope")
    with pytest.raises(ValueError, match="no training rows"):
        fit_model(pl.DataFrame(), TOY_FEATURES, ModelParams(), seed=0, model_type=TOY)
