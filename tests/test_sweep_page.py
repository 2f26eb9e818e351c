"""The Sweep page shows a sweep's ledger and the statistics the engine computes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_panel
from streamlit.testing.v1 import AppTest

from alpha_core.config import ModelParams, RunConfig
from alpha_core.runs.sweep import SweepService, SweepSpec, grid_trials

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("app") / "runs"
    panel = make_panel(n_assets=12, n_days=320, seed=4)
    dates = panel["date"].unique().sort().to_list()
    base = RunConfig(
        data="p.parquet",
        train_start=dates[0],
        train_end=dates[199],
        test_start=dates[200],
        test_end=dates[-1],
        model=ModelParams(n_estimators=20, max_depth=3, early_stopping_rounds=5),
    )
    spec = SweepSpec(base, grid_trials({"model.num_leaves": [4, 8], "long_pct": [0.2, 0.3]}))
    return root, SweepService(root).run(spec, panel)


def test_the_sweep_page_shows_the_engines_statistics(swept, monkeypatch):
    root, found = swept
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/9_Sweep.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    summary = found.summary()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Trials"] == "4"
    assert shown["Chosen trial (validation)"] == str(summary["best_trial"])
    assert shown["PBO (CSCV)"] == f"{summary['pbo']:.1%}"
    assert shown["DSR (all trials)"] == f"{summary['dsr']:.1%}"
    table = at.dataframe[0].value
    assert list(table["trial"]) == [0, 1, 2, 3]
    assert any(f"p = {summary['reality_check_p']:.3f}." in c.value for c in at.caption)
