"""Honest model selection: the validation window, rank-IC early stopping, candidates, ties."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import numpy as np
import polars as pl
import pytest
from conftest import make_panel, split_config

from alpha_core.cli.args import given_settings
from alpha_core.cli.main import build_parser, main
from alpha_core.config import FAST_PRESET, ConfigError, ModelParams, RunConfig, replace_paths
from alpha_core.evaluation.metrics import daily_ic
from alpha_core.features.library import FEATURE_NAMES, LABEL, LABEL_END, build_features
from alpha_core.models.base import fit_model
from alpha_core.research import selection
from alpha_core.research.pipeline import run_experiment
from alpha_core.research.selection import Candidate, validation_rows, validation_window
from alpha_core.runs.registry import list_runs, load_run, save_run
from alpha_core.signals.predictions import PREDICTION
from alpha_core.stats import returns as stats
from alpha_core.stats.scoring import daily_tie_share, mean_daily_rank_ic, tie_summary

PANEL = make_panel(n_assets=30, n_days=330, seed=5)
DATES = sorted(PANEL["date"].unique().to_list())
SMALL = ModelParams(
    n_estimators=60, learning_rate=0.1, num_leaves=8, max_depth=3, min_data_in_leaf=50,
    early_stopping_rounds=20,
)  # fmt: skip
TWO = (
    Candidate("a raw", "raw", SMALL),
    Candidate("b zscore", "zscore", dataclasses.replace(SMALL, num_leaves=4, max_depth=2)),
)


def config(**changes) -> RunConfig:
    base = split_config(
        DATES, 230, gap=2, data="prices.csv", valid_start=DATES[170], select="valid",
        model=ModelParams(n_estimators=10, num_leaves=4),
    )  # fmt: skip
    return base.replace(**changes)


@pytest.fixture(scope="module")
def feats() -> pl.DataFrame:
    return build_features(PANEL)


# ------------------------------------------------------------------------ the window
def test_default_window_is_the_last_six_months_of_the_training_span():
    cfg = config(valid_start=None, train_end=date(2020, 9, 30))
    start, end = validation_window(cfg, DATES)
    assert end == date(2020, 9, 30)
    assert start == min(d for d in DATES if d > date(2020, 3, 30))
    moved = validation_window(cfg.replace(valid_end=date(2020, 8, 31)), DATES)
    assert moved[1] == date(2020, 8, 31)


def test_window_must_lie_inside_the_training_span():
    with pytest.raises(ConfigError, match="valid_start .* inside the training span") as e:
        config(valid_start=DATES[240]).validate()
    assert e.value.field == "valid_start"
    with pytest.raises(ConfigError, match="validation window is empty"):
        config(valid_start=DATES[200], valid_end=DATES[190]).validate()


def test_candidate_rows_and_validation_rows_are_purged():
    """open_to_open (horizon 2): no candidate label reaches into the window, and no
    validation label reaches into the test window."""
    cfg = config(label="open_to_open")
    frame = build_features(PANEL, label="open_to_open")
    fit, valid = validation_rows(cfg, frame, FEATURE_NAMES)
    start = DATES[170]
    assert fit[LABEL_END].max() < start and fit["date"].max() == DATES[167]
    assert valid["date"].min() == start and valid[LABEL_END].max() < cfg.test_start
    assert valid["date"].max() == DATES[229]  # label ends on DATES[231], before the test


# ------------------------------------------------------------------ early stopping
def test_early_stopping_keeps_the_trees_with_the_best_validation_rank_ic(feats):
    cfg = config()
    fit, valid = validation_rows(cfg, feats, FEATURE_NAMES)
    params = dataclasses.replace(SMALL, n_estimators=200, early_stopping_rounds=30)
    model = fit_model(fit, FEATURE_NAMES, params, seed=1, valid=valid)
    curve = model.meta["valid_curve"]
    trees = [int(t) for t, _ in curve]
    assert trees == list(range(10, 10 * len(curve) + 1, 10))
    best = max(curve, key=lambda c: c[1])  # the first maximum
    assert model.meta["best_iteration"] == best[0] == model.booster.num_trees()
    assert trees[-1] - best[0] >= 30 or trees[-1] == 200  # stopped for lack of progress
    score = mean_daily_rank_ic(valid["date"], model.predict(valid), valid[LABEL])
    assert model.meta["valid_rank_ic"] == score == pytest.approx(best[1], abs=1e-12)
    # the criterion is the report's mean rank IC on the same predictions
    preds = valid.select("date", "asset", LABEL).with_columns(
        pl.Series(PREDICTION, model.predict(valid))
    )
    assert score == pytest.approx(daily_ic(preds)["rank_ic"].mean(), abs=1e-15)
    # the kept trees are the first trees of a plain fit with that many
    plain = dataclasses.replace(params, n_estimators=best[0], early_stopping_rounds=0)
    again = fit_model(fit, FEATURE_NAMES, plain, seed=1)
    np.testing.assert_array_equal(again.predict(valid), model.predict(valid))


def test_a_candidate_reuses_its_validation_scores_and_scores_no_training_row(feats):
    """The fit's own validation scores are the model's predictions of those rows (to the
    bit), and a cut candidate reports no training error rather than predicting every
    training row again."""
    cfg = config()
    fit, valid = validation_rows(cfg, feats, FEATURE_NAMES)
    params = dataclasses.replace(SMALL, n_estimators=200, early_stopping_rounds=30)
    model = fit_model(fit, FEATURE_NAMES, params, seed=1, valid=valid)
    np.testing.assert_array_equal(model.valid_predictions(), model.predict(valid))
    assert model.booster.num_trees() < 200 and model.meta["train_rmse"] is None
    plain = fit_model(fit, FEATURE_NAMES, dataclasses.replace(params, early_stopping_rounds=0), 1)
    assert plain.valid_predictions() is None and plain.meta["train_rmse"] > 0


def test_fast_preset_stops_on_the_window_and_every_fold_gets_the_same_trees():
    cfg = config(select="none", model=FAST_PRESET, walk_forward="monthly")
    result = run_experiment(cfg, PANEL)
    (row,) = result.candidates.to_dicts()
    assert row["candidate"] == "as given" and row["chosen"]
    trees = {m.booster.num_trees() for m in result.models}
    assert trees == {row["best_iteration"]} and len(result.models) > 2
    assert result.metrics["n_candidates"] == 1 and result.metrics["n_trials"] == cfg.n_trials


# ------------------------------------------------------------------------ selection
def test_changing_test_window_labels_cannot_change_the_choice(monkeypatch):
    """Every bar from the first test date on is rescaled: the test labels change, the
    candidates' training rows and validation scores cannot, nor can the choice."""
    cfg = config(select="valid")
    rng = np.random.default_rng(3)
    later = pl.col("date") >= cfg.test_start
    scale = pl.Series(rng.uniform(0.5, 2.0, PANEL.height))
    altered = PANEL.with_columns(
        pl.when(later).then(pl.col(c) * scale).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close")
    )
    a, b = run_experiment(cfg, PANEL), run_experiment(cfg, altered)
    assert a.metrics["rank_ic_mean"] != b.metrics["rank_ic_mean"]  # the test did change
    assert a.candidates.drop("seconds").equals(b.candidates.drop("seconds"))
    assert a.metrics["chosen_candidate"] == b.metrics["chosen_candidate"]
    assert a.candidates.height == len(selection.CANDIDATES) == a.metrics["n_candidates"]


def test_the_chosen_flags_make_the_same_run_and_candidates_count_as_trials(monkeypatch):
    monkeypatch.setattr(selection, "CANDIDATES", TWO)
    cfg = config(n_trials=3)
    result = run_experiment(cfg, PANEL)
    table = result.candidates
    (chosen,) = table.filter(pl.col("chosen")).to_dicts()
    scores = table.filter(~pl.col("refused"))["valid_rank_ic"]
    assert chosen["valid_rank_ic"] == scores.max() == result.metrics["valid_rank_ic"]
    # the refit: the whole training span with the trees early stopping kept
    model = result.models[0]
    assert model.booster.num_trees() == chosen["best_iteration"]
    assert model.meta["train_end"] > str(DATES[170])  # trained through the validation window
    # the same settings given explicitly, without selecting, make the same predictions
    args = build_parser().parse_args(["run", *chosen["flags"].split()])
    explicit = replace_paths(cfg.replace(select="none"), given_settings(args, RunConfig))
    again = run_experiment(explicit, PANEL)
    assert again.predictions.equals(result.predictions)
    # two candidates are two trials for the deflated Sharpe ratio
    assert result.metrics["n_trials"] == 3 + 2 - 1
    net = result.daily["long_short_net"].to_numpy()
    assert result.metrics["dsr_net"] == pytest.approx(stats.deflated_sharpe_ratio(net, 4))


def test_a_candidate_whose_predictions_collapse_into_ties_is_refused(monkeypatch, feats):
    stump = Candidate("one tree", "raw", ModelParams(n_estimators=1, num_leaves=2, max_depth=1))
    monkeypatch.setattr(selection, "CANDIDATES", (stump, TWO[0]))
    choice = selection.choose(config(), feats, FEATURE_NAMES)
    rows = choice.table.to_dicts()
    assert rows[0]["refused"] and rows[0]["valid_tied_days"] > 0 and not rows[0]["chosen"]
    assert rows[1]["chosen"] and choice.meta["chosen_candidate"] == "a raw"
    monkeypatch.setattr(selection, "CANDIDATES", (stump,))
    with pytest.raises(ConfigError, match="collapse into ties"):
        selection.choose(config(), feats, FEATURE_NAMES)


def test_ties_are_counted_per_date():
    dates = pl.Series([date(2020, 1, 1)] * 4 + [date(2020, 1, 2)] * 4)
    score = np.array([1.0, 1.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0])  # same value, other dates
    shares = daily_tie_share(dates, score)["tie_share"].to_list()
    assert shares == [0.75, 0.0]
    assert tie_summary(dates, score) == {"tie_share_mean": 0.375, "tied_days": 1, "n_days": 2}


# ------------------------------------------------------------------- saved and CLI
def test_the_candidate_table_is_saved_and_loaded(monkeypatch, tmp_path):
    monkeypatch.setattr(selection, "CANDIDATES", TWO)
    result = run_experiment(config(), PANEL)
    save_run(result, tmp_path)
    loaded = load_run(result.run_id, tmp_path)
    assert loaded.candidates.equals(result.candidates)
    assert loaded.model_meta["chosen_candidate"] == result.metrics["chosen_candidate"]


def test_cli_json_reports_the_selection_and_warns_of_ties(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(selection, "CANDIDATES", TWO)
    path = tmp_path / "prices.csv"
    PANEL.write_csv(path)
    dates = ["--train-start", str(DATES[0]), "--train-end", str(DATES[229])]
    dates += ["--test-start", str(DATES[232]), "--test-end", str(DATES[-1])]
    base = ["run", "--data", str(path), "--artifacts", str(tmp_path / "runs"), "--json"]
    assert main([*base, *dates, "--select", "valid", "--no-explain"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["feature_set"] == "seed12" and out["n_candidates"] == 2
    (info,) = list_runs(tmp_path / "runs")
    table = pl.read_parquet(info.path / "candidates.parquet")
    assert out["valid_rank_ic"] == table.filter(pl.col("chosen"))["valid_rank_ic"].item()
    assert out["chosen_candidate"] in {c.name for c in TWO}
    # one tree of two leaves: two values a day for 30 assets
    stump = ["--n-estimators", "1", "--num-leaves", "2", "--max-depth", "1", "--no-save"]
    assert main([*base, *dates, *stump]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["tied_days"] > 0
    assert "more than half of the predictions are tied" in captured.err


# ------------------------------------------------------------------------- the race
def test_the_race_promotes_the_best_half_seen_at_the_rung():
    from alpha_core.models.lightgbm.model import _Race

    race = _Race()
    race.rung = 20
    verdicts = [race.promotes(s) for s in (0.02, 0.01, 0.03, 0.00, float("nan"), 0.025)]
    # 1st always; 2nd behind 1 of 2; 3rd best; 4th behind 3 of 4 (top 2 go on); NaN last;
    # 0.025 behind one of six (top 3 go on)
    assert verdicts == [True, False, True, False, False, True]


def test_racing_candidates_stop_losers_at_the_rung_and_keep_the_choice(monkeypatch, feats):
    """The race cuts the losers' trees at the rung but never the winner's: the chosen
    candidate, its trees and its refit are those of the selection without the race."""
    base = dataclasses.replace(
        FAST_PRESET, n_estimators=80, early_stopping_rounds=60, num_leaves=4, max_depth=2
    )
    cands = tuple(
        Candidate(f"{name} {label}", label, dataclasses.replace(base, learning_rate=lr))
        for name, lr in (("slow", 0.01), ("fast", 0.2))
        for label in ("raw", "zscore")
    )
    monkeypatch.setattr(selection, "CANDIDATES", cands)
    monkeypatch.setattr(selection, "RACE_RUNG", 20)
    raced = selection.choose(config(), feats, FEATURE_NAMES)
    plain = selection.choose(config(select_race=False), feats, FEATURE_NAMES)
    assert raced.meta["chosen_candidate"] == plain.meta["chosen_candidate"]
    assert raced.config.replace(select_race=False) == plain.config
    rows, free = raced.table.to_dicts(), plain.table.to_dicts()
    out = [r for r in rows if r["raced_out_at"] is not None]
    assert out and all(r["raced_out_at"] == 20 and not r["chosen"] for r in out)
    assert all(r["raced_out_at"] is None for r in free)
    best = max(r["valid_rank_ic"] for r in rows)
    assert all(r["valid_rank_ic"] <= best and r["best_iteration"] <= 20 for r in out)
    for r, f in zip(rows, free, strict=True):  # the rest ran exactly as without the race
        if r["raced_out_at"] is None:
            assert (r["best_iteration"], r["valid_rank_ic"]) == (
                f["best_iteration"],
                f["valid_rank_ic"],
            )


def test_progress_names_each_candidate_and_moves_while_it_trains(monkeypatch, feats):
    """The bar moves through the candidates' fits (not 0% until the refit) and names the
    candidate being trained, i of n."""
    monkeypatch.setattr(selection, "CANDIDATES", TWO)
    events = []
    selection.choose(config(), feats, FEATURE_NAMES, on_progress=events.append)
    picked = [e for e in events if e.stage == "selecting"]
    texts = [e.text() for e in picked]
    assert any(t.startswith("selecting: candidate 1/2 (a raw)") for t in texts)
    assert any(t.startswith("selecting: candidate 2/2") and "trees" in t for t in texts)
    fractions = [e.fraction for e in picked]
    assert fractions == sorted(fractions) and fractions[-1] > 0.5 > fractions[0]
