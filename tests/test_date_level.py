"""Date-level features flagged: the SHAP share of features constant across assets on a date,
in the explanations' meta and on the Explain page, with the z-scored label one click away;
and the Train form's feature picker."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import make_panel
from streamlit.testing.v1 import AppTest

from alpha_core.config import ModelParams, RunConfig
from alpha_core.evaluation.explain import DATE_LEVEL_SHARE, date_level_features, date_level_summary
from alpha_core.runs.service import RunService
from alpha_ui.text import plain

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def shap_frame(month_shap: float, market_shap: float) -> pl.DataFrame:
    """Three dates x four assets: month and a market-wide level (constant per date), one
    cross-sectional feature; |SHAP| of each as given (the stock feature's is 1)."""
    rng = np.random.default_rng(0)
    dates = [date(2020, 1, d) for d in (6, 7, 8) for _ in range(4)]
    level = {d: rng.normal() for d in set(dates)}
    return pl.DataFrame(
        {
            "date": dates,
            "asset": ["A", "B", "C", "D"] * 3,
            "shap__month": [month_shap] * 12,
            "shap__mkt": [-market_shap] * 12,
            "shap__mom": [1.0] * 12,
            "value__month": [1.0] * 12,
            "value__mkt": [level[d] for d in dates],
            "value__mom": rng.normal(size=12),
        }
    )


def test_the_share_of_date_level_shap_is_measured_and_flagged_above_the_threshold():
    frame = shap_frame(month_shap=1.0, market_shap=1.0)
    assert date_level_features(frame) == ("month", "mkt")  # mkt found constant per date
    summary = date_level_summary(frame)
    assert summary["shap_share"] == pytest.approx(2 / 3) and summary["flagged"]
    quiet = date_level_summary(shap_frame(month_shap=0.1, market_shap=0.1))
    assert quiet["shap_share"] == pytest.approx(0.2 / 1.2) and not quiet["flagged"]
    assert quiet["threshold"] == DATE_LEVEL_SHARE == 0.25


@pytest.fixture(scope="module")
def calendar_run(tmp_path_factory):
    """A market that gains 3% every Tuesday (the label of Mondays) for every asset: the model
    leans on ``day_of_week``, a date-level feature, far more than on the stock features."""
    root = tmp_path_factory.mktemp("runs")
    panel = make_panel(n_assets=12, n_days=220, seed=8)
    days = panel.select(pl.col("date").unique().sort())
    common = pl.when(pl.col("date").dt.weekday() == 2).then(0.03).otherwise(-0.0075)
    level = days.with_columns(common.cum_sum().exp().alias("_level"))
    panel = panel.join(level, on="date").with_columns(
        pl.col(c) * pl.col("_level") for c in ("open", "high", "low", "close")
    )
    panel = panel.drop("_level").sort("asset", "date")
    path = root.parent / "calendar.csv"
    panel.write_csv(path)
    dates = sorted(panel["date"].unique().to_list())
    config = RunConfig(
        data=str(path),
        train_start=dates[0],
        train_end=dates[169],
        test_start=dates[171],
        test_end=dates[-1],
        features=("month", "day_of_week", "mom_5", "vol_20"),
        model=ModelParams(n_estimators=20, num_leaves=4, max_depth=2, min_data_in_leaf=5),
    )
    result = RunService(root).train_and_save(config, panel)
    return root, result.run_id


def test_the_run_meta_and_the_explain_page_say_so_and_offer_a_zscored_label(
    calendar_run, monkeypatch
):
    root, run_id = calendar_run
    meta = RunService(root).cached_explanations(run_id).meta
    level = meta["date_level"]
    assert level["flagged"] and level["features"] == ["month", "day_of_week"]
    assert level["shap_share"] > 0.5
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/4_Explain.py")
    at.session_state["run_id"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (warning,) = [w.value for w in at.warning if "Date-level features" in w.value]
    assert plain("month, day_of_week") in warning and f"{level['shap_share']:.0%}" in warning
    at.button(key="date_level_zscore").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="cfg.label_transform").value == "zscore"


def test_the_train_form_offers_every_registered_feature_in_a_picker():
    from test_config import form, submit

    from alpha_core.features.library import all_feature_names

    at = form(RunConfig(features=("mom_5", "KMID")))
    picker = at.multiselect(key="cfg.features")
    assert tuple(picker.options) == all_feature_names() and picker.value == ["mom_5", "KMID"]
    picker.set_value(["ROC5", "vol_20"])
    assert RunConfig.from_dict(submit(at)).features == ("ROC5", "vol_20")
