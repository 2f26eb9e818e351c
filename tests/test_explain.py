"""SHAP explanations: fast TreeSHAP against LightGBM's and shap's own, additivity, the run cache."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from alpha_core.config import ModelParams, RunConfig
from alpha_core.data.panel import load_panel
from alpha_core.evaluation import explain
from alpha_core.models.lightgbm import fastshap
from alpha_core.models.lightgbm.model import LightGBMModel
from alpha_core.research.pipeline import run_experiment
from alpha_core.runs.registry import load_run, save_run

needs_numba = pytest.mark.skipif(not fastshap.HAVE_NUMBA, reason="numba not installed")


def synthetic_model(categorical: bool, n: int = 3000, seed: int = 0, **params):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[:, 4] = rng.integers(0, 6, size=n)  # a small-integer column (categorical or not)
    x[rng.random(n) < 0.05, 1] = np.nan  # missing values take the default direction
    x[rng.random(n) < 0.05, 2] = 0.0
    y = (
        0.5 * x[:, 0]
        - np.nan_to_num(x[:, 1]) * x[:, 2]
        + np.where(np.isin(x[:, 4], [1, 3]), 1.0, -0.5)
        + 0.1 * rng.normal(size=n)
    )
    base = {
        "objective": "regression",
        "num_leaves": 15,
        "max_depth": 5,
        "learning_rate": 0.1,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "feature_fraction": 0.9,
        "min_data_in_leaf": 10,
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
    }
    base.update(params)
    ds = lgb.Dataset(x, y, categorical_feature=[4] if categorical else "auto")
    booster = lgb.train(base, ds, num_boost_round=40)
    names = tuple(f"f{i}" for i in range(5))
    return LightGBMModel(booster, names), x


@needs_numba
@pytest.mark.parametrize("categorical", [False, True])
def test_fast_treeshap_equals_lightgbm_pred_contrib(categorical):
    model, x = synthetic_model(categorical)
    fast = model.contributions(x, method="fast")
    native = model.contributions(x, method="native")
    assert fast.shape == native.shape == (x.shape[0], 6)
    np.testing.assert_allclose(fast, native, rtol=1e-9, atol=1e-12)


@needs_numba
def test_fast_treeshap_equals_shap_tree_explainer():
    """An independent implementation: shap parses the booster and runs its own TreeSHAP."""
    shap = pytest.importorskip("shap")
    model, x = synthetic_model(categorical=False, missing_type_nan=True, seed=3)
    sample = x[:400]
    explainer = shap.TreeExplainer(model.booster, feature_perturbation="tree_path_dependent")
    reference = explainer.shap_values(sample)
    fast = model.contributions(sample, method="fast")
    np.testing.assert_allclose(fast[:, :-1], reference, rtol=1e-6, atol=1e-9)
    assert fast[0, -1] == pytest.approx(float(np.ravel(explainer.expected_value)[0]), rel=1e-6)


@needs_numba
@pytest.mark.parametrize("categorical", [False, True])
def test_contributions_plus_expected_value_sum_to_prediction(categorical):
    model, x = synthetic_model(categorical, seed=5)
    phi = explain.contributions(model, x)
    np.testing.assert_allclose(phi.sum(axis=1), model.booster.predict(x), rtol=1e-9, atol=1e-12)


def test_unbounded_depth_falls_back_to_lightgbm():
    model, x = synthetic_model(False, max_depth=-1, num_leaves=200, min_data_in_leaf=2)
    compiled = fastshap.compile_model(model.booster, 5)
    phi = explain.contributions(model, x[:200])
    native = model.booster.predict(x[:200], pred_contrib=True)
    np.testing.assert_allclose(phi, native, rtol=1e-9, atol=1e-12)
    if compiled is None:  # paths too long for the tables: LightGBM's routine was used
        assert model.shap_tables() is None


@needs_numba
def test_shap_tables_are_built_once_and_kept_on_the_model(monkeypatch):
    """The compiled tables live on the model (no module cache): built once, even when the app's
    background thread and a page script ask at the same time."""
    model, x = synthetic_model(False, seed=2)
    calls = []
    compile_model = fastshap.compile_model

    def slow_compile(booster, n_features):
        calls.append(booster)
        time.sleep(0.05)
        return compile_model(booster, n_features)

    monkeypatch.setattr(fastshap, "compile_model", slow_compile)
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(lambda _: model.shap_tables(), range(8)))
    assert len(calls) == 1 and tables[0] is not None
    assert all(t is tables[0] for t in tables)
    other = LightGBMModel(model.booster, model.features)
    assert other.shap_tables() is not tables[0] and len(calls) == 2
    np.testing.assert_array_equal(other.contributions(x[:50]), model.contributions(x[:50]))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    panel = load_panel("demo")
    config = RunConfig(
        train_start=date(2021, 1, 4),
        model=ModelParams(n_estimators=12, num_leaves=12, max_depth=5),
        name="explain-test",
    )
    result = run_experiment(config, panel)
    folder = save_run(result, root)
    from alpha_core.features.library import build_features

    feats = build_features(panel, label=config.label, features=result.model.features)
    return result, folder, feats


def test_test_window_shap_matches_stored_predictions(demo_run):
    result, folder, feats = demo_run
    exp = explain.compute(result.models, feats, result.config, sample_size=500)
    joined = exp.test.join(result.predictions, on=["date", "asset"], suffix="_stored")
    assert joined.height == result.predictions.height == exp.test.height
    np.testing.assert_allclose(
        joined["prediction"].to_numpy(), joined["prediction_stored"].to_numpy(), atol=1e-12
    )
    shap_cols = [c for c in exp.test.columns if c.startswith(explain.SHAP_PREFIX)]
    total = exp.test.select(pl.sum_horizontal(*shap_cols) + pl.col(explain.EXPECTED)).to_series()
    np.testing.assert_allclose(total.to_numpy(), exp.test["prediction"].to_numpy(), atol=1e-12)
    assert exp.meta["sample_rows"] == 500
    assert exp.meta["sample_population"] > 500


def test_meta_names_the_model_and_its_method(demo_run):
    result, _, feats = demo_run
    exp = explain.compute(result.model, feats, result.config, sample_size=50)
    method = (
        "alpha_core.models.lightgbm.fastshap" if fastshap.HAVE_NUMBA else "LightGBM pred_contrib"
    )
    assert exp.meta["method"] == f"path-dependent TreeSHAP ({method})"
    assert exp.meta["model_type"] == "lightgbm"
    assert exp.meta["n_trees"] == result.model.booster.num_trees() == 12
    assert exp.meta["importance_measure"] == "LightGBM gain"
    gain = result.model.booster.feature_importance(importance_type="gain")
    table = explain.gain_importance(result.model)
    assert dict(zip(table["feature"], table["gain"], strict=True)) == dict(
        zip(result.model.features, gain.astype(float), strict=True)
    )


def test_sampled_importance_standard_error(demo_run):
    result, _, feats = demo_run
    exp = explain.compute(result.models, feats, result.config, sample_size=300, seed=1)
    n, big_n = exp.meta["sample_rows"], exp.meta["sample_population"]
    imp = explain.global_importance(exp.sample, big_n)
    row = imp.row(0, named=True)
    a = np.abs(exp.sample[explain.SHAP_PREFIX + row["feature"]].to_numpy())
    assert row["mean_abs_shap"] == pytest.approx(a.mean())
    assert row["se"] == pytest.approx(a.std(ddof=1) / math.sqrt(n) * math.sqrt(1 - n / big_n))
    # the exact test-window view carries no sampling error
    assert explain.global_importance(exp.test)["se"].max() == 0.0


def test_cache_in_run_folder_round_trip(demo_run):
    result, folder, feats = demo_run
    first = explain.load_or_compute(folder, result.models, feats, result.config)
    for name in (explain.TEST_FILE, explain.SAMPLE_FILE, explain.META_FILE):
        assert (folder / name).exists()
    json.loads((folder / explain.META_FILE).read_text())
    again = explain.load_cached(folder)
    assert again is not None and again.test.equals(first.test)
    load_run(folder.name, folder.parent)  # extra files do not disturb the registry


def test_top_contributions_are_the_largest_abs_shap(demo_run):
    result, _, feats = demo_run
    exp = explain.compute(result.models, feats, result.config, sample_size=100)
    day = result.books["date"].max()
    longs = result.books.filter((pl.col("date") == day) & (pl.col("side") == "long"))
    assets = longs["asset"].to_list()
    top = explain.top_contributions(exp.test, day, assets, k=2)
    assert top["asset"].unique(maintain_order=True).to_list() == assets
    feats_ = explain.features_of(exp.test)
    for asset in assets[:3]:
        row = exp.test.filter((pl.col("date") == day) & (pl.col("asset") == asset))
        vals = {f: row[explain.SHAP_PREFIX + f][0] for f in feats_}
        want = sorted(vals, key=lambda f: -abs(vals[f]))[:2]
        assert top.filter(pl.col("asset") == asset)["feature"].to_list() == want


def test_walk_forward_rows_explained_by_their_fold_model():
    panel = load_panel("demo").filter(pl.col("date") >= date(2022, 1, 1))
    config = RunConfig(
        train_start=date(2022, 3, 1),
        train_end=date(2024, 10, 1),
        walk_forward="quarterly",
        feature_transform="rank",
        model=ModelParams(n_estimators=5, num_leaves=6, max_depth=3),
    )
    result = run_experiment(config, panel)
    assert len(result.models) > 1
    from alpha_core.features.library import build_features

    feats = build_features(panel, label=config.label, features=result.model.features)
    exp = explain.compute(result.models, feats, config, sample_size=200)
    joined = exp.test.join(result.predictions, on=["date", "asset"], suffix="_stored")
    assert joined.height == result.predictions.height
    np.testing.assert_allclose(
        joined["prediction"].to_numpy(), joined["prediction_stored"].to_numpy(), atol=1e-12
    )
