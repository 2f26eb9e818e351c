"""Feature sets: the registry, builds mixing both libraries, leak-freedom of every set's
features, the zscore label, and a run on the Alpha158 set."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from conftest import make_panel

from alpha_core.cli.main import main
from alpha_core.config import RunConfig
from alpha_core.data.panel import PANEL_COLUMNS
from alpha_core.features.alpha158 import ALPHA158_NAMES, build_alpha158
from alpha_core.features.library import (
    FEATURE_NAMES,
    FEATURE_SETS,
    LABEL,
    all_feature_names,
    build_features,
    definitions,
    set_features,
)
from alpha_core.features.transforms import transform_label
from alpha_core.models.base import feature_matrix
from alpha_core.runs.registry import list_runs


def test_the_sets_are_the_seeds_12_and_alpha158_without_vwap_unless_the_panel_has_one():
    assert set_features("seed12", PANEL_COLUMNS) == FEATURE_NAMES
    alpha = set_features("alpha158", PANEL_COLUMNS)
    assert alpha == tuple(n for n in ALPHA158_NAMES if n != "VWAP0") and len(alpha) == 157
    assert set_features("alpha158", (*PANEL_COLUMNS, "vwap")) == ALPHA158_NAMES
    assert RunConfig().feature_set == "seed12"
    with pytest.raises(ValueError, match="feature set must be one of"):
        set_features("alpha360", PANEL_COLUMNS)


def test_every_feature_of_every_set_is_selectable_defined_and_under_a_lookahead_test():
    """tests/test_features.py's property test walks FEATURE_NAMES, tests/test_alpha158.py's
    ALPHA158_NAMES: together they must hold every feature any set can give a run."""
    covered = set(FEATURE_NAMES) | set(ALPHA158_NAMES)
    columns = (*PANEL_COLUMNS, "vwap", "sector")
    for name in FEATURE_SETS:
        names = set_features(name, columns)
        assert set(names) <= covered, name
        assert set(names) <= set(all_feature_names()), name
        assert all(definitions()[n] for n in names), name


def test_a_mixed_build_is_each_librarys_own_build():
    panel = make_panel(n_assets=4, n_days=90, stagger=5, seed=2)
    names = ("mom_5", "KMID", "vol_20", "RSQR20", "sector_id")
    mixed = build_features(panel, features=names)
    assert mixed.columns == ["date", "asset", *names, LABEL, "label_end"]
    seed = build_features(panel, features=("mom_5", "vol_20", "sector_id"))
    alpha = build_alpha158(panel, ("KMID", "RSQR20"))
    for col in ("mom_5", "vol_20", "sector_id", LABEL, "label_end"):
        assert mixed[col].equals(seed[col]), col
    for col in ("KMID", "RSQR20"):
        assert mixed[col].equals(alpha[col]) and mixed[col].dtype == pl.Float32, col
    # every model matrix is float32: Alpha158's values exactly, the seed's rounded once
    assert feature_matrix(mixed, ("KMID", "RSQR20")).dtype == np.float32
    x = feature_matrix(mixed, ("KMID", "mom_5"))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 1], mixed["mom_5"].cast(pl.Float32).to_numpy())
    with pytest.raises(ValueError, match="unknown features: nope"):
        build_features(panel, features=("KMID", "nope"))


@pytest.mark.parametrize("cut_index", [0, 30, 61, 88])
def test_no_feature_of_the_alpha158_set_looks_past_the_cut_through_build_features(cut_index):
    """The run's path (build_features with the set's names): nothing on or before T moves
    when every later bar changes (the per-library property tests cover more cuts)."""
    panel = make_panel(n_assets=5, n_days=90, stagger=6, seed=4)
    cut = sorted(panel["date"].unique().to_list())[cut_index]
    names = set_features("alpha158", panel.columns)
    later = pl.col("date") > cut
    altered = panel.with_columns(
        pl.when(later).then(pl.col(c) * 1.7).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close", "volume")
    )
    before = build_features(panel, features=names).filter(pl.col("date") <= cut)
    after = build_features(altered, features=names).filter(pl.col("date") <= cut)
    for name in names:
        assert before[name].equals(after[name], null_equal=True), name


def test_zscore_label_is_qlibs_cszscorenorm_per_date():
    train = pl.DataFrame(
        {
            "date": [dt.date(2020, 1, 1)] * 3 + [dt.date(2020, 1, 2)] * 2 + [dt.date(2020, 1, 3)],
            LABEL: [0.01, 0.03, -0.01, 0.02, 0.02, 0.05],
        }
    )
    out = transform_label(train, "zscore")
    day = np.array([0.01, 0.03, -0.01])
    expected = (day - day.mean()) / day.std(ddof=1)  # pandas' std, as Qlib's zscore
    np.testing.assert_allclose(out[LABEL].to_numpy(), expected, rtol=1e-12)
    # a date with equal returns or a single row has no z-score: its rows leave training
    assert out.height == 3 and out["date"].n_unique() == 1


def test_an_alpha158_run_records_its_set_and_features(tmp_path, capsys):
    panel = make_panel(n_assets=8, n_days=200, seed=6)
    path = tmp_path / "prices.csv"
    panel.write_csv(path)
    dates = sorted(panel["date"].unique().to_list())
    args = ["run", "--data", str(path), "--artifacts", str(tmp_path / "runs"), "--json"]
    args += ["--train-start", str(dates[0]), "--train-end", str(dates[149])]
    args += ["--test-start", str(dates[151]), "--test-end", str(dates[-1])]
    args += ["--feature-set", "alpha158", "--n-estimators", "5", "--no-explain"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["feature_set"] == "alpha158"
    (info,) = list_runs(tmp_path / "runs")
    assert info.config["feature_set"] == "alpha158" and info.config["features"] == []
    sidecar = json.loads((info.path / "model.json").read_text())
    assert sidecar["features"] == list(set_features("alpha158", panel.columns))
