"""Feature libraries: both built-ins pass the conformance suite, the feature sets are frozen,
and a library installed through an entry point only is selectable by ``--features``."""

from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import make_panel
from plugin_helpers import installed

from alpha_core.base.plugins import entry_points
from alpha_core.cli.main import main
from alpha_core.data.panel import PANEL_COLUMNS
from alpha_core.features import libraries
from alpha_core.features.alpha158 import ALPHA158_NAMES
from alpha_core.features.conformance import FeatureConformanceError, check_feature_library
from alpha_core.features.library import (
    FEATURE_NAMES,
    FEATURE_SETS,
    FEATURES_BY_NAME,
    Feature,
    all_feature_names,
    build_features,
    definitions,
    register_feature,
    set_features,
)
from alpha_core.runs.registry import list_runs

ALL_CHECKS = [
    "declared",
    "numbers per bar",
    "subsets and order",
    "needs declared",
    "warmup",
    "no lookahead",
]
# fmt: off
SEED12 = [
    "ln_ret_1", "mom_5", "mom_20", "vol_5", "vol_20", "vol_z_20", "gap_pc", "price_sma20_dev",
    "hl_range_pc", "month", "day_of_week", "sector_id",
]
# fmt: on


def test_the_builtin_libraries_are_discovered_through_their_entry_points():
    assert entry_points("feature_libraries") == libraries.BUILTINS  # declared in pyproject
    assert list(libraries.feature_libraries()) == ["seed", "alpha158"]
    assert all_feature_names() == (*FEATURES_BY_NAME, *ALPHA158_NAMES)


@pytest.mark.parametrize("name", list(libraries.BUILTINS))
def test_every_builtin_library_passes_the_conformance_suite(name):
    assert check_feature_library(name) == ALL_CHECKS


def _sets() -> dict[str, tuple[str, ...]]:
    columns = (*PANEL_COLUMNS, "vwap")
    return {name: set_features(name, columns) for name in FEATURE_SETS}


def test_registering_a_feature_changes_no_feature_set_and_not_the_default_run():
    panel = make_panel(n_assets=3, n_days=40)
    sets, default = _sets(), build_features(panel)
    assert list(sets["seed12"]) == SEED12 and list(FEATURE_NAMES) == SEED12
    assert sets["alpha158"] == ALPHA158_NAMES and len(ALPHA158_NAMES) == 158
    toy = Feature("toy_mom_3", "3-bar momentum", lambda: pl.col("close").pct_change(3), 3)
    register_feature(toy)
    try:
        assert "toy_mom_3" in all_feature_names()  # selectable ...
        assert _sets() == sets  # ... but in no set
        assert build_features(panel).equals(default, null_equal=True)
        assert "toy_mom_3" in build_features(panel, features=("toy_mom_3",)).columns
    finally:
        FEATURES_BY_NAME.pop("toy_mom_3")


TOY_LIBRARY = """
import polars as pl

from alpha_core.features.libraries import FeatureLibrary


class Spec:
    def __init__(self, name, definition, needs, warmup):
        self.name, self.definition, self.needs, self.warmup = name, definition, needs, warmup
        self.categorical = False


FEATURES = {
    "toy_range_5": Spec("toy_range_5", "5-bar mean of (high - low) / close",
                        ("high", "low", "close"), 4),
}


def value():
    return ((pl.col("high") - pl.col("low")) / pl.col("close")).shift({shift}).over("asset")


def build(panel, names):
    frame = panel.sort("asset", "date").with_columns(
        pl.int_range(pl.len()).over("asset").alias("_bar")
    )
    mean = value().rolling_mean(5).over("asset")
    return frame.select(
        "date", "asset", pl.when(pl.col("_bar") >= 4).then(mean).alias("toy_range_5")
    ).select("date", "asset", *names)


LIBRARY = FeatureLibrary("toy", "a toy library (one range feature)", lambda: FEATURES, build)
"""


def _toy(tmp_path, shift=0):
    (tmp_path / "site").mkdir()
    source = TOY_LIBRARY.replace("{shift}", str(shift))
    group = {"alpha_lab.feature_libraries": {"toy": "toy_feature_library:LIBRARY"}}
    return installed(tmp_path / "site", "toy_feature_library", source, group, libraries.clear_cache)


def test_a_library_installed_through_an_entry_point_only_is_selectable(tmp_path, capsys):
    panel = make_panel(n_assets=8, n_days=160, seed=5)
    path = tmp_path / "prices.csv"
    panel.write_csv(path)
    dates = sorted(panel["date"].unique().to_list())
    sets = _sets()
    with _toy(tmp_path):
        assert list(libraries.feature_libraries()) == ["seed", "alpha158", "toy"]
        assert check_feature_library("toy") == ALL_CHECKS
        assert all_feature_names()[-1] == "toy_range_5"
        assert definitions()["toy_range_5"] == "5-bar mean of (high - low) / close"
        assert _sets() == sets
        built = build_features(panel, features=("mom_5", "toy_range_5"))
        ratio = ((panel["high"] - panel["low"]) / panel["close"]).to_list()
        assert built["toy_range_5"][4] == pytest.approx(sum(ratio[:5]) / 5, rel=1e-12)
        args = ["run", "--data", str(path), "--artifacts", str(tmp_path / "runs"), "--json"]
        args += ["--train-start", str(dates[0]), "--train-end", str(dates[119])]
        args += ["--test-start", str(dates[121]), "--test-end", str(dates[-1])]
        args += ["--features", "mom_5,toy_range_5", "--n-estimators", "5", "--no-explain"]
        assert main(args) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["n_test_days"] > 0
        (info,) = list_runs(tmp_path / "runs")
        assert info.config["features"] == ["mom_5", "toy_range_5"]
    assert "toy_range_5" not in all_feature_names()
    assert list(libraries.feature_libraries()) == ["seed", "alpha158"]


def test_the_suite_fails_a_library_that_looks_ahead(tmp_path):
    with _toy(tmp_path, shift=-1), pytest.raises(FeatureConformanceError) as caught:
        check_feature_library("toy")  # reads the next bar's range
    assert "library 'toy', " in str(caught.value)
    assert "'toy_range_5' moved at dates up to" in str(caught.value)
