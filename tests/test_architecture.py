"""docs/architecture.md's table "to add X, touch Y", demonstrated row by row.

Each test adds a toy item of one kind in the one place the table names (a registry entry,
or a file for a page) and sees it reach the CLI (``alpha run``), the app (the run service's
background job, the Train form or a page) and the saved run. The run-setting row is
demonstrated in tests/test_config.py (a toy field declared once), the data-format row in
tests/test_data.py (a toy reader registered once) as well as here through the CLI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import make_panel
from streamlit.testing.v1 import AppTest
from test_config import form, widgets
from test_model_contract import TOY, OrdinaryLeastSquares

from alpha_core.cli.main import main
from alpha_core.config import ModelParams, RunConfig, defaults_for_data, setting_for
from alpha_core.data.panel import READERS, load_panel
from alpha_core.evaluation.metrics import METRICS, Metric, daily_ic
from alpha_core.features.library import FEATURES_BY_NAME, Feature
from alpha_core.models.base import MODEL_TYPES, register_model_type
from alpha_core.runs import service as runs
from alpha_core.runs.registry import list_runs, load_run
from alpha_core.runs.service import RunService
from alpha_ui import jobs

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n-estimators", "5", "--num-leaves", "4", "--max-depth", "3"]


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return make_panel(n_assets=10, n_days=260, seed=11)


@pytest.fixture
def prices(panel, tmp_path) -> Path:
    path = tmp_path / "prices.csv"
    panel.write_csv(path)
    return path


def cli_run(prices: Path, root: Path, *flags: str) -> tuple[Path, dict]:
    """``alpha run --json`` on the tiny panel; returns the run folder and the metrics."""
    args = ["run", "--data", str(prices), "--artifacts", str(root), "--json", *TINY, *flags]
    assert main(args) == 0
    (info,) = [i for i in list_runs(root) if i.config.get("data") == str(prices)][:1]
    return info.path, info.metrics


def app_run(config: RunConfig, panel: pl.DataFrame, root: Path) -> Path:
    """A run trained the way the Train page trains it (a background job of the board)."""
    job = jobs.wait(jobs.start(config, panel, root, "test"), timeout=300)
    assert job.status == "done", job.error
    return root / job.run_id


def tiny_config(prices: Path, panel: pl.DataFrame, **changes) -> RunConfig:
    """The config the CLI builds for the tiny panel, as the Train page would (same defaults)."""
    base = RunConfig(data=str(prices), model=ModelParams(n_estimators=5, num_leaves=4, max_depth=3))
    dates = panel["date"].unique().sort().to_list()
    return defaults_for_data(dates, demo=False, saved_runs=0, base=base).replace(**changes)


def page_app(page: str, run_id: str, root: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(page)
    at.session_state["run_id"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ------------------------------------------------------------------------ the two front ends
def test_cli_and_app_runs_of_one_config_save_the_same_artifacts(prices, panel, tmp_path):
    cli_folder, _ = cli_run(prices, tmp_path / "cli")
    app_folder = app_run(tiny_config(prices, panel), panel, tmp_path / "app")
    names = sorted(p.name for p in cli_folder.iterdir())
    assert names == sorted(p.name for p in app_folder.iterdir())
    assert {"shap_test.parquet", "model.txt"} <= set(names)
    assert "predictions.csv" not in names  # an export on request (alpha run --export-csv)
    same = json.loads((cli_folder / "config.json").read_text())
    assert same == json.loads((app_folder / "config.json").read_text())
    a = pl.read_parquet(cli_folder / "predictions.parquet")
    assert a.equals(pl.read_parquet(app_folder / "predictions.parquet"))


# ------------------------------------------------------------------------------ a feature
def test_a_feature_registered_once_reaches_the_cli_the_app_and_the_saved_run(
    prices, panel, tmp_path, monkeypatch
):
    toy = Feature(
        "toy_body",
        "candle body: close_t / open_t - 1",
        lambda: pl.col("close") / pl.col("open") - 1,
    )
    monkeypatch.setitem(FEATURES_BY_NAME, toy.name, toy)  # the one place
    names = "ln_ret_1,mom_5,vol_20,toy_body"
    folder, _ = cli_run(prices, tmp_path / "runs", "--features", names)
    sidecar = json.loads((folder / "model.json").read_text())
    assert sidecar["features"] == names.split(",")
    shap = pl.read_parquet(folder / "shap_test.parquet")
    test_rows = load_run(folder.name, folder.parent).predictions.join(panel, on=["date", "asset"])
    joined = shap.join(test_rows.select("date", "asset", "close", "open"), on=["date", "asset"])
    np.testing.assert_allclose(
        joined["value__toy_body"].to_numpy(), (joined["close"] / joined["open"] - 1).to_numpy()
    )
    # the app: the Explain page's importance table names it with its definition
    at = page_app("pages/4_Explain.py", folder.name, folder.parent, monkeypatch)
    table = at.dataframe[0].value
    row = table[table["feature"] == "toy_body"]
    assert row["definition"].tolist() == [toy.definition]


# ------------------------------------------------------------------------- an option value
def test_an_option_value_registered_once_reaches_the_cli_the_form_and_the_books(
    prices, panel, tmp_path, monkeypatch
):
    from alpha_core.portfolio import books

    monkeypatch.setitem(books.SIZINGS, "squared_rank", lambda b: (b["rank"] - 0.5) ** 2)
    folder, _ = cli_run(prices, tmp_path / "runs", "--sizing", "squared-rank")
    run = load_run(folder.name, folder.parent)
    assert run.config.sizing == "squared_rank"
    day = run.books["date"].max()
    longs = run.books.filter((pl.col("date") == day) & (pl.col("side") == "long"))
    base = (longs["rank"].to_numpy() - 0.5) ** 2
    np.testing.assert_allclose(longs["weight"].to_numpy(), base / base.sum())
    at = form(RunConfig(sizing="squared_rank"))
    assert "squared_rank" in widgets(at)["cfg.sizing"].options


# ------------------------------------------------------------------------------ an artifact
def test_an_artifact_registered_once_is_saved_by_the_cli_and_the_app(
    prices, panel, tmp_path, monkeypatch
):
    monkeypatch.setitem(runs.EXPORTS, "daily_ic.csv", lambda r: daily_ic(r.predictions).write_csv)
    cli_folder, _ = cli_run(prices, tmp_path / "cli")
    app_folder = app_run(tiny_config(prices, panel), panel, tmp_path / "app")
    for folder in (cli_folder, app_folder):
        saved = pl.read_csv(folder / "daily_ic.csv", try_parse_dates=True)
        expected = daily_ic(pl.read_parquet(folder / "predictions.parquet"))
        np.testing.assert_allclose(saved["rank_ic"].to_numpy(), expected["rank_ic"].to_numpy())


# --------------------------------------------------------------------------------- a metric
def test_a_metric_registered_once_is_computed_saved_and_shown(
    prices, tmp_path, monkeypatch, capsys
):
    best = Metric(
        "toy_best_day",
        "Best day (long-short)",
        "pct",
        group="Toys",
        summary=True,
        compute=lambda daily, preds, books: float(daily["long_short"].max()),
    )
    monkeypatch.setitem(METRICS, best.key, best)  # the one place
    folder, metrics = cli_run(prices, tmp_path / "runs")
    daily = pl.read_parquet(folder / "daily.parquet")
    assert metrics["toy_best_day"] == pytest.approx(daily["long_short"].max())
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["toy_best_day"] == metrics["toy_best_day"]
    args = ["run", "--data", str(prices), "--artifacts", str(tmp_path / "r2"), *TINY]
    assert main(args) == 0
    assert "Best day (long-short)" in capsys.readouterr().out
    at = page_app("pages/3_Performance.py", folder.name, folder.parent, monkeypatch)
    shown = [df.value for df in at.dataframe if "metric" in df.value.columns]
    assert any("Best day (long-short)" in df["metric"].tolist() for df in shown)


# ----------------------------------------------------------------------------- a model type
def test_a_model_type_registered_once_trains_from_the_cli_and_the_app(
    prices, panel, tmp_path, monkeypatch
):
    register_model_type(OrdinaryLeastSquares)  # the one place (besides the class itself)
    try:
        folder, _ = cli_run(prices, tmp_path / "cli", "--model-type", TOY)
        run = load_run(folder.name, folder.parent)
        assert isinstance(run.model, OrdinaryLeastSquares)
        assert json.loads((folder / "model.json").read_text())["model_type"] == TOY
        feats = RunService(folder.parent).features(run.config, panel)
        rows = run.predictions.join(feats.drop("label"), on=["date", "asset"])
        np.testing.assert_allclose(run.model.predict(rows), rows["prediction"].to_numpy())
        assert TOY in setting_for(RunConfig, "model_type").options()  # the Train page's choices
        app_folder = app_run(tiny_config(prices, panel, model_type=TOY), panel, tmp_path / "app")
        at = page_app("pages/4_Explain.py", app_folder.name, app_folder.parent, monkeypatch)
        assert any("exact linear SHAP" in c.value for c in at.caption)
    finally:
        MODEL_TYPES.pop(TOY, None)


# ------------------------------------------------------------------------------- a data format
def test_a_data_format_registered_once_trains_from_the_cli(panel, tmp_path, monkeypatch):
    path = tmp_path / "prices.tsv"
    panel.write_csv(path, separator="\t")
    from alpha_core.data.panel import SourceTable

    def tsv(p: Path) -> list[SourceTable]:
        return [SourceTable(str(p), pl.read_csv(p, separator="\t", infer_schema=False))]

    monkeypatch.setitem(READERS, ".tsv", tsv)  # the one place
    folder, metrics = cli_run(path, tmp_path / "runs")
    assert load_panel(path).height == panel.height
    assert metrics["n_test_days"] > 0


# ------------------------------------------------------------------------------------ a page
TOY_PAGE = '''"""Toy: a page added as one file."""

from __future__ import annotations

import streamlit as st

from alpha_ui import layout

ICON = ":material/toys:"

layout.page(__file__)
st.title("Toy page")
'''


def test_a_page_added_as_one_file_reaches_the_sidebar_and_home(tmp_path, monkeypatch):
    app_dir = tmp_path / "app"
    shutil.copytree(ROOT / "pages", app_dir / "pages")
    shutil.copy(ROOT / "app.py", app_dir / "app.py")
    (app_dir / "pages" / "99_Toy.py").write_text(TOY_PAGE)  # the one place (numbered last)
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path / "runs"))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    at = AppTest.from_file(str(app_dir / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.proto.label for e in at.sidebar.get("page_link")][-1] == "Toy"
    assert "Toy: a page added as one file" in [e.proto.label for e in at.main.get("page_link")]
    at.switch_page("pages/99_Toy.py").run()
    assert not at.exception
    assert at.title[0].value == "Toy page"
