"""AppTest of every dashboard page: widgets set, buttons pressed, shown values against the engine.

A tiny pre-trained demo run (few trees, short window) lives in a temporary registry; every test
gets a fresh app session. The first-start auto-training is switched off here
(``ALPHA_LAB_NO_FIRST_RUN``) and tested on its own with a tiny config.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from alpha_core.config import ModelParams, RunConfig  # noqa: E402
from alpha_core.data.panel import load_panel  # noqa: E402
from alpha_core.evaluation import explain, views  # noqa: E402
from alpha_core.evaluation.report import format_value, headline, metric_sections  # noqa: E402
from alpha_core.portfolio.books import books_csv, build_books  # noqa: E402
from alpha_core.research.pipeline import models_meta, rebook, run_experiment  # noqa: E402
from alpha_core.runs.registry import delete_run, list_runs, load_run, save_run  # noqa: E402
from alpha_ui import nav  # noqa: E402
from alpha_ui.text import shown as as_read  # noqa: E402

SP500 = ROOT.parent / "shared" / "data" / "sp500_5yr.parquet"
PAGES = tuple(page.path for page in nav.PAGES)
TIMEOUT = 120


def tiny_config(**changes) -> RunConfig:
    base = RunConfig(
        train_start=date(2021, 1, 4),
        train_end=date(2024, 10, 1),
        model=ModelParams(n_estimators=6, num_leaves=8, max_depth=4),
        name="tiny",
    )
    return base.replace(**changes)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A tmp registry with two tiny demo runs; env vars point the app at it."""
    root = tmp_path_factory.mktemp("registry")
    panel = load_panel("demo")
    ids = []
    for seed, name in ((1, "tiny-a"), (2, "tiny-b")):
        result = run_experiment(tiny_config(seed=seed, name=name, long_pct=0.1 * seed), panel)
        save_run(result, root, {"data": "demo"})
        ids.append(result.run_id)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHA_LAB_ARTIFACTS", str(root))
        mp.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
        yield {"root": root, "ids": ids, "panel": panel}


def app(page: str, run_id: str | None = None) -> AppTest:
    """A fresh session of the multipage app (main script app.py), opened at ``page``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if page != "app.py":
        at.switch_page(page)
    if run_id is not None:
        at.session_state["run_id"] = run_id
    return at


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if as_read(m.label) == label)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_demo(registry, page):
    at = app(page, registry["ids"][0]).run()
    no_errors(at)


def test_home_shows_dataset_and_current_run_metrics(registry):
    run_id = registry["ids"][0]
    at = app("app.py", run_id).run()
    no_errors(at)
    run = load_run(run_id, registry["root"])
    panel = registry["panel"]
    assert any("simulated" in c.value for c in at.caption)
    assert metric(at, "Assets") == f"{panel['asset'].n_unique():,}"
    top = headline(run.metrics)  # the tiny runs model no costs: gross figures, said so
    assert not top.costs
    assert metric(at, "Sharpe") == format_value(run.metrics["sharpe"], "num")
    assert metric(at, "Annual return") == format_value(run.metrics["cagr"], "pct")
    assert "Headline: no costs modelled: gross figures" in [as_read(c.value) for c in at.caption]
    shown = at.dataframe[0].value
    assert shown["n_assets"].sum() == panel["asset"].n_unique()


def test_performance_metrics_equal_engine(registry):
    run_id = registry["ids"][0]
    at = app("pages/3_Performance.py", run_id).run()
    no_errors(at)
    run = load_run(run_id, registry["root"])
    _, _, metrics = rebook(run.predictions, run.config, models_meta(run.models))
    table = next(d.value for d in at.dataframe if "section" in d.value.columns)
    shown = dict(zip(table["metric"], table["value"], strict=True))
    for section, rows in metric_sections(metrics):
        for key, label, value, _gross, _unit in rows:
            if key != "train_rmse":
                assert shown[label] == value, (section, key)
    assert len(shown) == table.shape[0]  # each metric once


def test_books_tables_follow_percentile_sliders(registry):
    run_id = registry["ids"][0]
    run = load_run(run_id, registry["root"])
    at = app("pages/5_Books.py", run_id).run()
    no_errors(at)
    last = run.books["date"].max()
    long_shown = at.dataframe[0].value
    expected = run.books.filter((pl.col("date") == last) & (pl.col("side") == "long"))
    assert sorted(long_shown["asset"]) == sorted(expected["asset"].to_list())

    at.slider(key=f"books_long_{run_id}").set_value(5)
    at.slider(key=f"books_short_{run_id}").set_value(30)
    at.run()
    no_errors(at)
    cfg = run.config.replace(long_pct=0.05, short_pct=0.30)
    books, _, metrics = rebook(run.predictions, cfg, models_meta(run.models))
    engine_books, _ = build_books(run.predictions, cfg)
    assert books.equals(engine_books)
    for i, side in enumerate(("long", "short")):
        want = books.filter((pl.col("date") == last) & (pl.col("side") == side))
        got = at.dataframe[i].value
        assert list(got["asset"]) == want.sort("rank", descending=side == "long")["asset"].to_list()
        assert got["weight"].to_list() == pytest.approx(
            want.sort("rank", descending=side == "long")["weight"].to_list()
        )
    assert metric(at, "Sharpe") == format_value(metrics["sharpe"], "num")  # no costs: gross
    assert metric(at, "Annual return") == format_value(metrics["cagr"], "pct")
    assert [b.label for b in at.get("download_button")][1].startswith("Download every daily")


def test_books_date_picker_shows_that_day(registry):
    run_id = registry["ids"][1]
    run = load_run(run_id, registry["root"])
    day = run.books["date"].unique().sort()[10]
    at = app("pages/5_Books.py", run_id).run()
    at.date_input(key=f"books_day_{run_id}").set_value(day).run()
    no_errors(at)
    tables = views.book_for_date(run.books, day, views.asset_sectors(registry["panel"]))
    assert at.dataframe[0].value["asset"].tolist() == tables["long"]["asset"].to_list()
    assert at.dataframe[1].value["asset"].tolist() == tables["short"]["asset"].to_list()
    assert at.dataframe[0].value["sector"].notna().all()


def test_books_csv_export_matches_engine(registry):
    run = load_run(registry["ids"][0], registry["root"])
    text = books_csv(run.books)
    back = pl.read_csv(text.encode(), try_parse_dates=True)
    assert back.columns == ["date", "asset", "side", "weight", "prediction", "rank"]
    assert back.height == run.books.height
    assert back["weight"].to_list() == pytest.approx(run.books["weight"].to_list())
    day = run.books["date"].max()
    one = pl.read_csv(books_csv(run.books, day).encode(), try_parse_dates=True)
    assert one["date"].unique().to_list() == [day]


def test_explain_page_importance_equals_engine(registry):
    run_id = registry["ids"][0]
    at = app("pages/4_Explain.py", run_id).run()
    no_errors(at)
    folder = registry["root"] / run_id
    cached = explain.load_cached(folder)
    assert cached is not None  # written to the run folder as Parquet + JSON
    table = at.dataframe[0].value
    want = explain.global_importance(cached.test)
    assert table["feature"].tolist() == want["feature"].to_list()
    assert table["test_mean_abs_shap"].tolist() == pytest.approx(want["mean_abs_shap"].to_list())
    at.selectbox(key="dep_feature").set_value("mom_5").run()
    no_errors(at)
    # "why" tables: the long book's assets on the last date, top-3 contributions each
    run = load_run(run_id, registry["root"])
    last = run.books["date"].max()
    longs = run.books.filter((pl.col("date") == last) & (pl.col("side") == "long"))
    why = at.dataframe[1].value
    assert set(why["asset"]) == set(longs["asset"].to_list())
    assert (why.groupby("asset").size() == 3).all()


def test_compare_metrics_diff_rename_delete(registry, tmp_path):
    a, b = registry["ids"]
    at = app("pages/6_Compare.py").run()
    no_errors(at)
    at.multiselect(key="cmp_runs").set_value([a, b]).run()
    no_errors(at)
    table = next(d.value for d in at.dataframe if "metric" in d.value.columns)
    assert list(table.columns) == ["metric", "tiny-a", "tiny-b"]
    ra, rb = load_run(a, registry["root"]), load_run(b, registry["root"])
    row = table[table["metric"] == "Sharpe ratio (long-short, annualised)"].iloc[0]
    assert row["tiny-a"] == format_value(ra.metrics["sharpe"], "num")
    assert row["tiny-b"] == format_value(rb.metrics["sharpe"], "num")
    diff = next(d.value for d in at.dataframe if "field" in d.value.columns)
    assert {"seed", "long_pct", "name"} <= set(diff["field"])

    # rename and delete work on a throwaway copy of a run
    extra = run_experiment(tiny_config(name="doomed"), registry["panel"])
    save_run(extra, registry["root"])
    at = app("pages/6_Compare.py").run()
    at.selectbox(key="manage_run").set_value(extra.run_id).run()
    at.text_input(key=f"rename_{extra.run_id}").set_value("renamed").run()
    at.button(key="rename_btn").click().run()
    no_errors(at)
    names = {i.run_id: i.name for i in list_runs(registry["root"])}
    assert names[extra.run_id] == "renamed"
    assert at.button(key="delete_btn").disabled  # needs the confirmation first
    at.checkbox(key=f"confirm_{extra.run_id}").check().run()
    at.button(key="delete_btn").click().run()
    no_errors(at)
    assert extra.run_id not in {i.run_id for i in list_runs(registry["root"])}


def test_compare_shows_why_a_run_holding_a_ledger_is_not_deleted(registry):
    """Deleting would lose the desk's ledger (no retrained child to take it): refused with
    the registry's reason, the run and every ledger byte kept (issue 20)."""
    extra = run_experiment(tiny_config(name="booked"), registry["panel"])
    folder = save_run(extra, registry["root"])
    ledger = folder / "ledger.jsonl"
    ledger.write_bytes(b'{"as_of": "2025-03-28", "key": "k"}\n')
    try:
        at = app("pages/6_Compare.py").run()
        at.selectbox(key="manage_run").set_value(extra.run_id).run()
        at.checkbox(key=f"confirm_{extra.run_id}").check().run()
        at.button(key="delete_btn").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("holds its lineage" in e.value for e in at.error)
        assert ledger.read_bytes() == b'{"as_of": "2025-03-28", "key": "k"}\n'
        assert extra.run_id in {i.run_id for i in list_runs(registry["root"])}
    finally:  # leave the shared registry as the other tests expect it
        ledger.unlink()
        delete_run(extra.run_id, registry["root"])


def test_data_page_reports_malformed_file_and_keeps_working(registry, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    at = app("pages/1_Data.py").run()
    at.radio(key="data_kind").set_value("File path on the server").run()
    at.text_input(key="data_path").set_value(str(bad)).run()
    at.button(key="use_data").click().run()
    assert not at.exception
    assert any("no date column" in e.value for e in at.error)
    assert at.session_state["source"]["data"] == "demo"
    assert any("200 MB" in c.value for c in at.caption)
    at.switch_page("app.py").run()
    no_errors(at)


def test_data_page_loads_a_csv_and_train_page_uses_it(registry, tmp_path):
    panel = registry["panel"].filter(pl.col("date") >= date(2023, 1, 1))
    path = tmp_path / "prices.csv"
    panel.drop("asset_class").write_csv(path)
    at = app("pages/1_Data.py").run()
    at.radio(key="data_kind").set_value("File path on the server").run()
    at.text_input(key="data_path").set_value(str(path)).run()
    at.button(key="use_data").click().run()
    no_errors(at)
    assert at.session_state["source"]["data"] == str(path)
    assert any(f"{panel['asset'].n_unique()} assets" in s.value for s in at.success)
    at.switch_page("pages/2_Train.py").run()
    no_errors(at)
    assert at.date_input(key="cfg.train_start").value >= date(2023, 1, 2)


def test_training_survives_page_switch_and_becomes_current(registry):
    at = app("pages/2_Train.py").run()
    no_errors(at)
    n_runs = len(list_runs(registry["root"]))
    assert at.number_input(key="cfg.n_trials").value == n_runs + 1  # for the deflated Sharpe
    at.date_input(key="cfg.train_start").set_value(date(2023, 1, 3))
    at.number_input(key="cfg.model.n_estimators").set_value(7)
    at.number_input(key="cfg.model.num_leaves").set_value(6)
    at.text_input(key="cfg.name").set_value("from the train page")
    next(b for b in at.button if b.label == "Train").click().run()
    no_errors(at)
    job_id = at.session_state["job_id"]
    assert job_id
    # leave the page while the run trains; the job keeps going
    at.switch_page("pages/3_Performance.py").run()
    no_errors(at)
    at.switch_page("pages/5_Books.py").run()
    from alpha_ui import jobs

    job = jobs.wait(jobs.get(job_id), timeout=120)
    assert job.status == "done", job.error
    at.switch_page("pages/2_Train.py").run()
    no_errors(at)
    assert at.session_state["run_id"] == job.run_id
    saved = load_run(job.run_id, registry["root"])
    assert saved.config.name == "from the train page"
    assert saved.config.model.n_estimators == 7
    assert saved.model.booster.num_trees() == 7
    assert saved.config.n_trials == n_runs + 1
    assert job.trees == (7, 7)
    assert explain.load_cached(registry["root"] / job.run_id) is not None


def test_first_start_trains_default_run(tmp_path, monkeypatch):
    """Empty registry: the Home page starts the default demo run and shows its progress."""
    from alpha_ui import jobs, session

    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path))
    monkeypatch.delenv("ALPHA_LAB_NO_FIRST_RUN", raising=False)
    monkeypatch.setattr(
        session,
        "first_run_config",
        lambda: tiny_config(name="default demo run", train_start=date(2024, 1, 2)),
    )
    at = app("app.py").run()
    no_errors(at)
    job = jobs.first_run_job(tmp_path)
    assert job is not None
    assert any("training the default demo run" in i.value for i in at.info)
    jobs.wait(job, 120)
    assert job.status == "done", job.error
    at.run()
    no_errors(at)
    assert at.session_state["run_id"] == job.run_id
    assert list_runs(tmp_path)[0].name == "default demo run"


@pytest.mark.skipif(not SP500.exists(), reason=f"real data not available at {SP500}")
def test_every_page_with_sp500(registry, tmp_path, monkeypatch):
    """Real data: load it on the Data page, train a tiny run on it, render every page."""
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path))
    at = app("pages/1_Data.py").run()
    at.radio(key="data_kind").set_value("File path on the server").run()
    at.text_input(key="data_path").set_value(str(SP500)).run()
    at.button(key="use_data").click().run()
    no_errors(at)
    at.switch_page("pages/2_Train.py").run()
    no_errors(at)
    at.number_input(key="cfg.model.n_estimators").set_value(5)
    at.number_input(key="cfg.model.num_leaves").set_value(8)
    next(b for b in at.button if b.label == "Train").click().run()
    # the file has bad bars (missing opens, OHLC out of order): refused by default ...
    assert any("23 bad bars" in e.value and "drop" in e.value for e in at.error)
    at.selectbox(key="cfg.on_bad_bars").set_value("drop")  # ... trained without them
    next(b for b in at.button if b.label == "Train").click().run()
    from alpha_ui import jobs

    job = jobs.wait(jobs.get(at.session_state["job_id"]), timeout=180)
    assert job.status == "done", job.error
    for page in PAGES:  # every page draws the S&P run (its speed: bench/, not a test)
        at.switch_page(page).run()
        no_errors(at)
    assert at.session_state["run_id"] == job.run_id
    assert load_run(job.run_id, tmp_path).config.data == str(SP500)
    assert os.environ["ALPHA_LAB_ARTIFACTS"] == str(tmp_path)


def test_data_page_loads_zip_of_ticker_csvs_with_metadata(registry, tmp_path):
    import zipfile

    panel = registry["panel"].filter(pl.col("date") >= date(2024, 6, 1))
    assets = panel["asset"].unique().sort().to_list()[:5]
    path = tmp_path / "tickers.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for a in assets:
            one = panel.filter(pl.col("asset") == a).select(
                pl.col("date").alias("Date"),
                pl.col("open").alias("Open"),
                pl.col("high").alias("High"),
                pl.col("low").alias("Low"),
                pl.col("close").alias("Close"),
                pl.col("volume").alias("Volume"),
            )
            zf.writestr(f"{a}.csv", one.write_csv())
    meta = tmp_path / "meta.csv"
    pl.DataFrame({"ticker": assets, "sector": ["S1", "S1", "S2", "S2", "S3"]}).write_csv(meta)
    at = app("pages/1_Data.py").run()
    at.radio(key="data_kind").set_value("File path on the server").run()
    at.text_input(key="data_path").set_value(str(path))
    at.text_input(key="meta_path").set_value(str(meta)).run()
    at.button(key="use_data").click().run()
    no_errors(at)
    assert at.session_state["source"]["metadata"] == str(meta)
    assert any("Loaded 5 assets" in s.value for s in at.success)
    at.switch_page("app.py").run()
    no_errors(at)
    assert metric(at, "Assets") == "5"


def test_upload_is_stored_content_addressed(registry):
    from alpha_ui import uploads

    first = uploads.save_upload("prices.csv", b"date,asset,close\n2024-01-02,A,1\n")
    again = uploads.save_upload("prices.csv", b"date,asset,close\n2024-01-02,A,1\n")
    assert first == again and first.parent.name == ".uploads"
    assert first.read_bytes().startswith(b"date,asset")
    assert all(i.run_id != ".uploads" for i in list_runs(registry["root"]))


def walk_forward_config(name: str):
    """A small quarterly walk-forward run with 5 bps costs on the demo."""
    return tiny_config(
        name=name,
        train_start=date(2023, 1, 3),
        walk_forward="quarterly",
        cost_bps=5.0,
        model=ModelParams(n_estimators=4, num_leaves=6, max_depth=3),
    )


def test_walk_forward_run_on_every_page(registry):
    """A walk-forward run with costs: folds table, per-fold SHAP, books at other percentiles."""
    config = walk_forward_config("walk-forward")
    result = run_experiment(config, registry["panel"])
    save_run(result, registry["root"], {"data": "demo"})
    assert len(result.models) > 1
    for page in PAGES:
        at = app(page, result.run_id).run()
        no_errors(at)
    at = app("pages/3_Performance.py", result.run_id).run()
    assert any(s.value == "Walk-forward folds" for s in at.subheader)
    at = app("pages/5_Books.py", result.run_id).run()
    at.slider(key=f"books_long_{result.run_id}").set_value(10).run()
    no_errors(at)
    cfg = config.replace(long_pct=0.10)
    _, _, metrics = rebook(result.predictions, cfg, models_meta(result.models))
    assert metric(at, "Net Sharpe") == format_value(metrics["sharpe_net"], "num")
    cached = explain.load_cached(registry["root"] / result.run_id)
    assert cached is not None and cached.meta["n_models"] == len(result.models)


def test_train_page_model_preset_fills_the_form(registry):
    from alpha_core.config import FAST_PRESET

    at = app("pages/2_Train.py").run()
    at.selectbox(key="model_preset").set_value("fast (early stopping)").run()
    no_errors(at)
    assert at.number_input(key="cfg.model.n_estimators").value == FAST_PRESET.n_estimators
    assert at.number_input(key="cfg.model.learning_rate").value == FAST_PRESET.learning_rate
    assert (
        at.number_input(key="cfg.model.early_stopping_rounds").value
        == FAST_PRESET.early_stopping_rounds
    )


def test_every_page_script_is_declared_once():
    """pages/ holds exactly the declared pages: nav.PAGES drives the sidebar, Home and tests."""
    scripts = {"app.py"} | {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert scripts == set(PAGES)
    assert len(PAGES) == len(set(PAGES))


def test_sidebar_and_home_link_every_page(registry):
    at = app("app.py").run()
    no_errors(at)
    sidebar = [el.proto.label for el in at.sidebar.get("page_link")]
    home = [el.proto.label for el in at.main.get("page_link")]
    assert sidebar == [p.title for p in nav.PAGES]
    assert home == [f"{p.title}: {p.blurb}" for p in nav.PAGES[1:]]
