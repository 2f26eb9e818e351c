"""A longer training target (``target_horizon``): its values, leak-freedom and purge; the
books and metrics still use the next bar's return."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from conftest import make_panel, split_config

from alpha_core.cli.args import given_settings
from alpha_core.cli.main import build_parser
from alpha_core.config import ModelParams, RunConfig, replace_paths
from alpha_core.features.library import (
    FEATURE_NAMES,
    LABEL,
    LABEL_END,
    TARGET,
    TARGET_END,
    as_training_target,
    build_features,
    with_target,
)
from alpha_core.research import selection
from alpha_core.research.pipeline import run_experiment
from alpha_core.research.selection import Candidate, validation_rows
from alpha_core.research.walkforward import fold_training_rows, plan_folds

PANEL = make_panel(n_assets=12, n_days=330, seed=7, stagger=3)
DATES = sorted(PANEL["date"].unique().to_list())
SMALL = ModelParams(n_estimators=20, learning_rate=0.1, num_leaves=8, max_depth=3,
                    min_data_in_leaf=30, early_stopping_rounds=10)  # fmt: skip


def config(**changes) -> RunConfig:
    base = split_config(
        DATES, 230, gap=2, data="prices.csv", valid_start=DATES[170],
        model=ModelParams(n_estimators=10, num_leaves=4),
    )  # fmt: skip
    return base.replace(**changes)


def expected_target(panel: pl.DataFrame, price: str, lead: int, h: int) -> dict:
    """(asset, date) -> (target, end date), from each asset's own bars in numpy."""
    out = {}
    for (asset,), bars in panel.sort("date").group_by("asset"):
        p, d = bars[price].to_numpy(), bars["date"].to_list()
        for i in range(len(d) - lead - h):
            out[(asset, d[i])] = (p[i + lead + h] / p[i + lead] - 1, d[i + lead + h])
    return out


@pytest.mark.parametrize(("label", "price", "lead"), [("close_to_close", "close", 0),
                                                      ("open_to_open", "open", 1)])  # fmt: skip
def test_target_is_the_h_bar_return_entered_as_the_label_is(label, price, lead):
    feats = build_features(PANEL, label=label)
    framed = with_target(feats, PANEL, label, 5)
    assert framed.select("date", "asset").equals(feats.select("date", "asset"))
    want = expected_target(PANEL, price, lead, 5)
    got = {(r["asset"], r["date"]): r for r in framed.iter_rows(named=True)}
    for key, row in got.items():
        if key in want:
            assert row[TARGET] == pytest.approx(want[key][0], rel=1e-12)
            assert row[TARGET_END] == want[key][1]
        else:  # the asset's last lead + h bars: not known yet
            assert row[TARGET] is None and row[TARGET_END] is None
    assert with_target(feats, PANEL, label, 1) is feats  # horizon 1: the label itself


def test_target_is_leak_free_under_truncation():
    """Bars after T cannot change a target whose return ends by T."""
    cut = DATES[200]
    full = with_target(build_features(PANEL), PANEL, "close_to_close", 10)
    short_panel = PANEL.filter(pl.col("date") <= cut)
    short = with_target(build_features(short_panel), short_panel, "close_to_close", 10)
    known = full.filter(pl.col(TARGET_END) <= cut).select("date", "asset", TARGET, TARGET_END)
    again = known.join(short, on=["date", "asset"], how="left", suffix="_short")
    assert known.height > 1000
    np.testing.assert_array_equal(again[TARGET].to_numpy(), again[f"{TARGET}_short"].to_numpy())
    assert again[TARGET_END].equals(again[f"{TARGET_END}_short"], check_names=False)


def test_training_rows_are_purged_until_the_target_is_known():
    cfg = config(target_horizon=10)
    feats = with_target(build_features(PANEL), PANEL, cfg.label, 10)
    fold = plan_folds(cfg, DATES)[0]
    train = fold_training_rows(feats, fold, FEATURE_NAMES, cfg)
    by_key = {(r["asset"], r["date"]): r for r in feats.iter_rows(named=True)}
    # every training row trains on its 10-bar return, known strictly before the test
    for r in train.sample(300, seed=1).iter_rows(named=True):
        src = by_key[(r["asset"], r["date"])]
        assert r[LABEL] == src[TARGET] and src[TARGET_END] < fold.purge_before
    assert train[LABEL_END].max() < fold.purge_before
    # and exactly the rows whose target ends before the test are kept
    want = feats.filter(
        pl.col(TARGET_END) < fold.purge_before,
        pl.col("date") <= fold.train_end,
        *[pl.col(f).is_not_null() for f in FEATURE_NAMES if f != "sector_id"],
    )
    assert train.height == want.height
    one_day = fold_training_rows(build_features(PANEL), fold, FEATURE_NAMES, config())
    assert train.height < one_day.height  # the purge is 10 bars, not 1


def test_candidates_train_on_the_target_and_validate_on_the_label():
    cfg = config(select="valid", target_horizon=5)
    feats = with_target(build_features(PANEL), PANEL, cfg.label, 5)
    fit, valid = validation_rows(cfg, feats, FEATURE_NAMES)
    assert fit[LABEL_END].max() < DATES[170]  # target windows end before validation
    assert TARGET not in fit.columns
    raw = build_features(PANEL)
    check = valid.select("date", "asset", LABEL).join(raw, on=["date", "asset"], suffix="_raw")
    assert check[LABEL].equals(check[f"{LABEL}_raw"], check_names=False)  # next-bar return
    assert as_training_target(raw) is raw


def test_a_run_trains_on_the_target_and_books_the_next_bar(monkeypatch):
    base = run_experiment(config(), PANEL)
    longer = run_experiment(config(target_horizon=5), PANEL)
    # the metrics and books are judged on the same next-bar return
    assert longer.predictions[LABEL].equals(base.predictions[LABEL])
    assert not np.array_equal(longer.predictions["prediction"], base.predictions["prediction"])
    fold = longer.folds.row(0, named=True)
    assert fold["last_label_end"] < fold["test_start"]
    assert longer.folds["n_train_rows"][0] < base.folds["n_train_rows"][0]
    assert longer.config.target_horizon == 5


def test_the_chosen_flags_carry_the_target_horizon(monkeypatch):
    two = (Candidate("a raw", "raw", SMALL),
           Candidate("b zscore", "zscore", dataclasses.replace(SMALL, num_leaves=4)))  # fmt: skip
    monkeypatch.setattr(selection, "CANDIDATES", two)
    cfg = config(select="valid", target_horizon=5, smooth_days=5)
    result = run_experiment(cfg, PANEL)
    (chosen,) = result.candidates.filter(pl.col("chosen")).to_dicts()
    assert "--target-horizon 5" in chosen["flags"]
    args = build_parser().parse_args(["run", *chosen["flags"].split()])
    explicit = replace_paths(
        cfg.replace(select="none", target_horizon=1), given_settings(args, RunConfig)
    )
    assert explicit.target_horizon == 5
    again = run_experiment(explicit, PANEL)
    assert again.predictions.equals(result.predictions)
