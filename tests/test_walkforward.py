"""Walk-forward folds: purge and embargo, fold ordering, stitching, persistence, transforms."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from conftest import make_panel, split_config

from alpha_core.config import ConfigError, ModelParams, RunConfig
from alpha_core.features.library import FEATURE_NAMES, LABEL, LABEL_END, build_features
from alpha_core.features.transforms import transform_features, transform_label
from alpha_core.research.pipeline import run_experiment
from alpha_core.research.walkforward import block_dates, fold_training_rows, plan_folds
from alpha_core.runs.registry import load_run, save_run

TINY = ModelParams(n_estimators=5, num_leaves=4, max_depth=3, min_data_in_leaf=5)


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return make_panel(n_assets=10, n_days=230, seed=11)


@pytest.fixture(scope="module")
def dates(panel) -> list[dt.date]:
    return panel["date"].unique().sort().to_list()


@pytest.fixture(scope="module")
def config(dates) -> RunConfig:
    return split_config(dates, 120, model=TINY, walk_forward="monthly", label="open_to_open")


@pytest.fixture(scope="module")
def result(panel, config):
    messages: list[str] = []
    res = run_experiment(config, panel, on_progress=lambda p: messages.append(p.text()))
    res.timings["_messages"] = messages  # type: ignore[assignment]
    return res


def test_monthly_blocks_tile_the_test_window(dates, config):
    folds = plan_folds(config, dates)
    test_dates = [d for d in dates if config.test_start <= d <= config.test_end]
    covered = [d for f in folds for d in test_dates if f.test_start <= d <= f.test_end]
    assert covered == test_dates  # every test date once, in order
    for f in folds:
        assert f.test_start.month == f.test_end.month
    for a, b in zip(folds, folds[1:], strict=False):
        assert (a.test_start.year, a.test_start.month) < (b.test_start.year, b.test_start.month)


def test_blocks_of_n_days_and_quarters():
    days = [dt.date(2021, 1, 1) + dt.timedelta(days=i) for i in range(200)]
    blocks = block_dates(days, "days", 21)
    assert [len(b) for b in blocks] == [21] * 9 + [11]
    quarters = block_dates(days, "quarterly", 0)
    assert [b[0] for b in quarters] == [dt.date(2021, m, 1) for m in (1, 4, 7)]
    assert block_dates(days, "none", 0) == [days]


def test_every_training_label_ends_before_its_folds_purge_boundary(panel, config, result):
    feats = build_features(panel, label=config.label)
    folds = plan_folds(config, feats["date"].unique().sort().to_list())
    assert len(folds) == result.folds.height > 3
    for fold in folds:
        train = fold_training_rows(feats, fold, FEATURE_NAMES, config)
        assert train.height > 0
        assert train[LABEL_END].max() < fold.purge_before <= fold.test_start
        assert train["date"].max() < fold.test_start
    table = result.folds
    assert (table["last_label_end"] < table["purge_before"]).all()
    assert (table["purge_before"] <= table["test_start"]).all()


def test_each_prediction_is_served_by_a_model_trained_strictly_before_it(result):
    preds = result.predictions.join(
        result.folds.select("fold", "test_start", "test_end", "last_label_end", "last_train_date"),
        on="fold",
    )
    assert preds["fold"].null_count() == 0
    assert (preds["date"] >= preds["test_start"]).all()
    assert (preds["date"] <= preds["test_end"]).all()
    assert (preds["last_label_end"] < preds["date"]).all()
    assert (preds["last_train_date"] < preds["date"]).all()
    # one series: each (date, asset) once, dates covering the test window
    assert preds.select("date", "asset").is_unique().all()


def test_stitched_predictions_come_from_their_own_folds_model(panel, config, result):
    feats = build_features(panel, label=config.label)
    assert len(result.models) == result.folds.height
    for k, model in enumerate(result.models):
        part = result.predictions.filter(pl.col("fold") == k).select("date", "asset", "prediction")
        rows = part.join(feats, on=["date", "asset"], how="left")
        np.testing.assert_allclose(model.predict(rows), part["prediction"].to_numpy())
        assert model.meta["train_end"] < model.meta["test_start"]


def test_progress_names_the_fold(result):
    messages = result.timings["_messages"]
    n = result.folds.height
    assert f"fold 3/{n}: 5/5 trees" in messages
    assert messages[-1] == "done"


def test_embargo_and_rolling_window(dates, config):
    cfg = config.replace(embargo_days=3, window="rolling", window_days=40)
    position = {d: i for i, d in enumerate(dates)}
    for fold in plan_folds(cfg, dates):
        assert position[fold.test_start] - position[fold.purge_before] == 3
        assert position[fold.train_end] - position[fold.train_start] + 1 <= 40
        assert fold.train_end < fold.purge_before


def test_walk_forward_run_saves_every_fold_model_and_loads_it_back(result, panel, tmp_path):
    folder = save_run(result, tmp_path)
    n = result.folds.height
    stems = sorted(p.name for p in (folder / "models").iterdir())
    assert stems == sorted(
        [f"fold_{k:03d}.txt" for k in range(n)] + [f"fold_{k:03d}.json" for k in range(n)]
    )
    loaded = load_run(result.run_id, tmp_path)
    assert len(loaded.models) == n
    assert loaded.folds.equals(result.folds)
    assert loaded.quantiles.equals(result.quantiles)
    rows = result.predictions.filter(pl.col("fold") == 1).join(
        build_features(panel, label="open_to_open").drop(LABEL), on=["date", "asset"]
    )
    np.testing.assert_allclose(loaded.models[1].predict(rows), result.models[1].predict(rows))


def test_embargo_that_leaves_no_training_is_named(dates, config):
    with pytest.raises(ConfigError, match="embargo"):
        plan_folds(config.replace(train_end=dates[0], test_start=dates[1], embargo_days=5), dates)


# ----------------------------------------------------------------------------- transforms
def _frame() -> pl.DataFrame:
    d1, d2 = dt.date(2024, 1, 2), dt.date(2024, 1, 3)
    return pl.DataFrame(
        {
            "date": [d1] * 4 + [d2] * 3,
            "asset": ["A", "B", "C", "D", "A", "B", "C"],
            LABEL: [0.01, 0.03, -0.02, 0.02, 0.05, -0.01, 0.05],
            "mom_5": [0.3, None, 0.1, 0.2, 1.0, 2.0, 3.0],
            "month": [1, 1, 1, 1, 1, 1, 1],
        }
    )


def test_label_demean_and_rank_by_hand():
    f = _frame()
    demeaned = transform_label(f, "demean")[LABEL].to_list()
    m1, m2 = (0.01 + 0.03 - 0.02 + 0.02) / 4, (0.05 - 0.01 + 0.05) / 3
    expected = [0.01 - m1, 0.03 - m1, -0.02 - m1, 0.02 - m1, 0.05 - m2, -0.01 - m2, 0.05 - m2]
    np.testing.assert_allclose(demeaned, expected)
    ranked = transform_label(f, "rank")[LABEL].to_list()
    # date 1 ranks 2,4,1,3 of 4; date 2 ranks 2.5,1,2.5 of 3: (r - 0.5) / n - 0.5
    expected = [(r - 0.5) / 4 - 0.5 for r in (2, 4, 1, 3)]
    expected += [(r - 0.5) / 3 - 0.5 for r in (2.5, 1, 2.5)]
    np.testing.assert_allclose(ranked, expected)
    assert transform_label(f, "raw").equals(f)


def test_feature_rank_skips_nulls_and_calendar_fields():
    out = transform_features(_frame(), ("mom_5", "month"), "rank")
    # date 1 has 3 non-null values 0.3, 0.1, 0.2 -> ranks 3, 1, 2 of 3
    got = out["mom_5"].to_list()
    assert got[1] is None
    np.testing.assert_allclose([got[0], got[2], got[3]], [(r - 0.5) / 3 - 0.5 for r in (3, 1, 2)])
    assert out["month"].to_list() == [1] * 7


def test_transforms_use_only_their_own_dates_rows(panel):
    """Fitted-on-train-only: transforming the training rows alone equals transforming all
    rows and keeping the training rows (no statistic crosses dates or the split)."""
    feats = build_features(panel)
    cut = feats["date"].unique().sort()[150]
    train = feats.filter(pl.col("date") < cut).drop_nulls(LABEL)
    for how in ("demean", "rank"):
        alone = transform_label(train, how).sort("date", "asset")
        together = (
            transform_label(feats.drop_nulls(LABEL), how)
            .filter(pl.col("date") < cut)
            .sort("date", "asset")
        )
        np.testing.assert_allclose(alone[LABEL].to_numpy(), together[LABEL].to_numpy())
    a = transform_features(train, FEATURE_NAMES, "rank").sort("date", "asset")
    b = (
        transform_features(feats.drop_nulls(LABEL), FEATURE_NAMES, "rank")
        .filter(pl.col("date") < cut)
        .sort("date", "asset")
    )
    assert a.equals(b)


def test_metrics_use_the_raw_return_whatever_the_training_label(panel, config):
    res = run_experiment(
        config.replace(walk_forward="none", label_transform="rank", feature_transform="rank"),
        panel,
    )
    raw = build_features(panel, label=config.label).select("date", "asset", LABEL)
    joined = res.predictions.join(raw, on=["date", "asset"], suffix="_raw")
    assert joined[LABEL].equals(joined[f"{LABEL}_raw"], null_equal=True)
    # predictions are on the rank scale (|p| < 0.5) while the label is the raw return
    assert res.predictions["prediction"].abs().max() < 0.5
    assert res.models[0].meta["label_transform"] == "rank"
