"""Model purge, determinism, text persistence; pipeline and registry round trips."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from conftest import make_panel, split_config

from alpha_core.config import ConfigError, ModelParams, RunConfig
from alpha_core.features.library import FEATURE_NAMES, LABEL_END, build_features
from alpha_core.models.base import fit_model, load_model, save_model, training_rows
from alpha_core.research.pipeline import run_experiment, shuffle_labels_within_date
from alpha_core.runs.registry import delete_run, list_runs, load_run, rename_run, save_run

SMALL = ModelParams(n_estimators=20, num_leaves=8, max_depth=4)


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return make_panel(n_assets=12, n_days=260, seed=5)


@pytest.fixture(scope="module")
def config(panel) -> RunConfig:
    return split_config(panel["date"].unique().sort(), 200, model=SMALL)


def test_training_rows_are_purged_before_the_test_window(panel):
    feats = build_features(panel, label="open_to_open")
    dates = panel["date"].unique().sort()
    test_start = dates[150]
    train = training_rows(feats, dates[0], dates[149], test_start, FEATURE_NAMES)
    assert train[LABEL_END].max() < test_start
    # open_to_open has a 2-bar horizon: the last two decision dates before the test drop out
    assert train["date"].max() == dates[147]


def test_model_is_deterministic_and_round_trips_through_text(panel, tmp_path):
    feats = build_features(panel)
    dates = panel["date"].unique().sort()
    train = training_rows(feats, dates[0], dates[199], dates[200], FEATURE_NAMES)
    a = fit_model(train, FEATURE_NAMES, SMALL, seed=1)
    b = fit_model(train, FEATURE_NAMES, SMALL, seed=1)
    c = fit_model(train, FEATURE_NAMES, SMALL, seed=2)
    np.testing.assert_array_equal(a.predict(train), b.predict(train))
    assert not np.array_equal(a.predict(train), c.predict(train))
    save_model(a, tmp_path)
    assert "tree" in (tmp_path / "model.txt").read_text()[:200]
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar["features"] == list(FEATURE_NAMES)
    assert sidecar["n_train_rows"] == train.height
    loaded = load_model(tmp_path)
    np.testing.assert_allclose(loaded.predict(train), a.predict(train))


def test_progress_reports_every_tree(panel, config):
    seen: list[float] = []
    run_experiment(config, panel, on_progress=lambda p: seen.append(p.fraction))
    assert seen[-1] == 1.0
    assert len(seen) >= SMALL.n_estimators
    assert seen == sorted(seen)


def test_shuffle_keeps_each_dates_labels(panel):
    feats = build_features(panel).drop_nulls("label")
    shuffled = shuffle_labels_within_date(feats, seed=0)
    before = feats.group_by("date").agg(pl.col("label").sort()).sort("date")
    after = shuffled.group_by("date").agg(pl.col("label").sort()).sort("date")
    assert before.equals(after)
    assert not feats.sort("date", "asset")["label"].equals(shuffled.sort("date", "asset")["label"])


def test_run_saves_and_loads_without_pickle(panel, config, tmp_path):
    result = run_experiment(config.replace(name="first"), panel)
    folder = save_run(result, tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "attribution.parquet",
        "books.parquet",
        "config.json",
        "daily.parquet",
        "folds.parquet",
        "ic_decay.parquet",
        "meta.json",
        "metrics.json",
        "model.json",
        "model.txt",
        "predictions.parquet",
        "quantiles.parquet",
    ]  # a single-split run has no models/ folder
    loaded = load_run(result.run_id, tmp_path)
    assert loaded.config == result.config
    assert loaded.books.equals(result.books)
    assert loaded.metrics == json.loads(json.dumps(result.metrics))
    np.testing.assert_allclose(
        loaded.model.predict(build_features(panel).tail(50).drop_nulls("mom_20")),
        result.model.predict(build_features(panel).tail(50).drop_nulls("mom_20")),
    )
    rename_run(result.run_id, "renamed", tmp_path)
    assert [i.name for i in list_runs(tmp_path)] == ["renamed"]
    delete_run(result.run_id, tmp_path)
    assert list_runs(tmp_path) == []


def test_a_run_saved_without_a_name_is_named_by_its_settings(panel, config, tmp_path):
    result = run_experiment(config.replace(cost_bps=5.0, label_transform="rank"), panel)
    save_run(result, tmp_path)
    (info,) = list_runs(tmp_path)
    assert info.name == result.config.auto_name()
    for shown in ("seed12", "rank", "5 bps", f"test {config.test_start}..{config.test_end}"):
        assert shown in info.name, shown
    assert info.name != config.auto_name()  # another label transform and cost: another name


def test_failed_save_leaves_nothing(panel, config, tmp_path):
    result = run_experiment(config, panel)
    result.books = None  # type: ignore[assignment]  # makes the Parquet write fail
    with pytest.raises(AttributeError):
        save_run(result, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"long_pct": 0.0}, "long_pct must be in"),
        ({"short_pct": 0.7}, "short_pct must be in"),
        ({"test_start": dt.date(2019, 1, 1)}, "test_start 2019-01-01 must be after train_end"),
        ({"train_start": dt.date(1990, 1, 1)}, "train_start 1990-01-01 is outside the data"),
        ({"label": "vwap"}, "label must be one of"),
    ],
)
def test_bad_config_is_named(panel, config, change, message):
    with pytest.raises(ConfigError, match=message):
        run_experiment(config.replace(**change), panel)


def test_config_round_trips_json(config):
    assert RunConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ConfigError, match="unknown config keys: bogus"):
        RunConfig.from_dict({"bogus": 1})


def test_duplicate_bars_are_refused_by_name(panel, config):
    from alpha_core.data.panel import PanelError

    doubled = pl.concat([panel, panel.head(1)])
    with pytest.raises(PanelError, match="1 extra rows sharing an \\(asset, date\\), e.g. A00"):
        run_experiment(config, doubled)


def test_model_sidecar_records_config_and_data_fingerprint(panel, config, tmp_path):
    from alpha_core.data.panel import panel_fingerprint

    result = run_experiment(config, panel)
    save_model(result.model, tmp_path)
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar["data_fingerprint"] == panel_fingerprint(panel)
    assert RunConfig.from_dict(sidecar["config"]) == config
