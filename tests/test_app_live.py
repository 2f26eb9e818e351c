"""The live parts of the app: a run without positions, the sidebar's job notice, cancel,
save-before-SHAP, and the session's dataset and run in the URL."""

from __future__ import annotations

import dataclasses
import sys
import time
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from alpha_core.base.progress import Progress  # noqa: E402
from alpha_core.config import ModelParams, RunConfig  # noqa: E402
from alpha_core.data.panel import load_panel  # noqa: E402
from alpha_core.evaluation import explain  # noqa: E402
from alpha_core.research.pipeline import run_experiment  # noqa: E402
from alpha_core.runs.registry import list_runs, load_run, save_run  # noqa: E402
from alpha_core.runs.service import Cancelled, RunService  # noqa: E402
from alpha_ui import jobs  # noqa: E402

TIMEOUT = 120


def tiny(**changes) -> RunConfig:
    base = RunConfig(
        train_start=date(2024, 1, 2),
        train_end=date(2024, 10, 1),
        model=ModelParams(n_estimators=4, num_leaves=8, max_depth=4),
        name="tiny",
    )
    return base.replace(**changes)


@pytest.fixture(scope="module")
def live_registry(tmp_path_factory):
    """A tmp registry: one ordinary tiny run and one run whose books are empty."""
    root = tmp_path_factory.mktemp("live")
    panel = load_panel("demo")
    normal = run_experiment(tiny(name="normal run"), panel)
    save_run(normal, root, {"data": "demo"})
    empty = run_experiment(tiny(name="no positions", seed=3), panel)
    empty = dataclasses.replace(empty, books=empty.books.clear(), daily=empty.daily.clear())
    save_run(empty, root, {"data": "demo"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHA_LAB_ARTIFACTS", str(root))
        mp.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
        yield {"root": root, "normal": normal.run_id, "empty": empty.run_id, "panel": panel}


def app(page: str, run_id: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if page != "app.py":
        at.switch_page(page)
    if run_id is not None:
        at.session_state["run_id"] = run_id
    return at


def test_explain_of_a_run_without_positions_says_so(live_registry):
    at = app("pages/4_Explain.py", live_registry["empty"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no positions" in i.value for i in at.info)


def test_explain_date_picker_shows_the_book_date_on_or_before(live_registry):
    run_id = live_registry["normal"]
    at = app("pages/4_Explain.py", run_id).run()
    assert not at.exception, [e.value for e in at.exception]
    books = load_run(run_id, live_registry["root"]).books
    assert at.date_input(key=f"explain_day_{run_id}").value == books["date"].max()
    at.date_input(key=f"explain_day_{run_id}").set_value(date(2024, 11, 3)).run()  # a Sunday
    assert not at.exception
    assert any("Long book on 2024-11-01" in m.value for m in at.markdown)


def test_cancel_stops_training_and_saves_nothing(tmp_path):
    """The job's callback raises Cancelled at its next event; the run service lets it
    through; no run folder is written."""
    panel = load_panel("demo")
    cfg = tiny(name="to cancel", model=ModelParams(n_estimators=400, num_leaves=8, max_depth=4))
    job = jobs.start(cfg, panel, tmp_path, "tester")
    deadline = time.time() + 600  # a guard against a hang, not a timing assumption
    while job.progress.stage != "training" and time.time() < deadline:
        time.sleep(0.05)
    assert job.progress.stage == "training"
    job.cancel()
    jobs.wait(job, 120)
    assert job.status == "cancelled"
    assert job.run_id is None
    assert list_runs(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == []


def test_run_service_lets_cancelled_through(tmp_path):
    calls: list[str] = []

    def stop_at_training(event: Progress) -> None:
        calls.append(event.stage)
        if event.stage == "training":
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        RunService(tmp_path).train_and_save(
            tiny(), load_panel("demo"), on_progress=stop_at_training
        )
    assert "saving" not in calls
    assert list_runs(tmp_path) == []


def test_job_shows_the_run_before_shap_and_explains_after(tmp_path, monkeypatch):
    """The run is listed (job.run_id set) while SHAP is still being computed."""
    seen: dict[str, object] = {}
    original = RunService.explain

    def slow_explain(self, run, feats=None):
        seen["listed"] = [i.run_id for i in list_runs(tmp_path)]
        seen["status"] = job.status
        seen["run_id"] = job.run_id
        return original(self, run, feats)

    monkeypatch.setattr(RunService, "explain", slow_explain)
    job = jobs.start(tiny(name="saved first"), load_panel("demo"), tmp_path, "tester")
    jobs.wait(job, 120)
    assert job.status == "done", job.error
    assert seen == {"listed": [job.run_id], "status": "explaining", "run_id": job.run_id}
    assert explain.load_cached(tmp_path / job.run_id) is not None


def test_job_eta_and_elapsed():
    job = jobs.Job(id="x", config=tiny(), root=Path("."), owner="o", status="running")
    job.started = 100.0
    job.progress = Progress("training", 0.25)
    assert job.elapsed(now=110.0) == pytest.approx(10.0)
    assert job.eta(now=110.0) == pytest.approx(30.0)
    job.progress = Progress("features", 0.0)
    assert job.eta(now=110.0) is None


def test_sidebar_notice_updates_and_toast_names_the_run(live_registry, tmp_path, monkeypatch):
    """On a page other than Train, the sidebar shows the job with elapsed time and a cancel
    button; when the job ends the run becomes current and the toast names it."""
    from alpha_ui import session

    gate = {"open": False}
    original = RunService.train_and_save

    def held(self, config, panel=None, **kw):
        report = kw["on_progress"]
        report(Progress("training", 0.5, step=2, total=4))
        while not gate["open"]:
            time.sleep(0.02)
        return original(self, config, panel, **kw)

    monkeypatch.setattr(RunService, "train_and_save", held)
    at = app("pages/3_Performance.py", live_registry["normal"])
    job = jobs.start(
        tiny(name="watched run"), live_registry["panel"], live_registry["root"], "tester"
    )
    at.session_state["job_id"] = job.id
    while job.progress.stage != "training":  # held at the gate until the notice is read
        assert job.thread is not None and job.thread.is_alive(), job.error
        time.sleep(0.02)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    notice = [i.value.replace("\\", "") for i in at.sidebar.info]  # Markdown-escaped
    assert any("watched run" in n and "50%" in n and "elapsed" in n for n in notice), notice
    assert any(b.label == "Cancel training" for b in at.sidebar.button)
    gate["open"] = True
    jobs.wait(job, 120)
    at.run()
    assert not at.exception
    assert at.session_state["run_id"] == job.run_id
    assert any("watched run" in t.value for t in at.toast)
    assert session.DEMO_SOURCE["data"] == "demo"


# ----------------------------------------------------------------------------- the URL
def test_url_carries_the_run_and_a_new_session_opens_it(live_registry):
    older = live_registry["normal"]
    at = app("pages/3_Performance.py", older).run()
    assert not at.exception
    assert at.query_params["run"] == [older] or at.query_params["run"] == older
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    fresh.switch_page("pages/3_Performance.py")
    fresh.query_params["run"] = older
    fresh.run()
    assert not fresh.exception
    assert fresh.session_state["run_id"] == older  # not the newest run
    assert fresh.sidebar.selectbox(key="run_pick").value == older


def test_url_carries_the_dataset(live_registry, tmp_path):
    path = tmp_path / "prices.parquet"
    live_registry["panel"].filter(
        live_registry["panel"]["asset"].is_in(
            live_registry["panel"]["asset"].unique()[:30].to_list()
        )
    ).write_parquet(path)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/1_Data.py")
    at.query_params.update({"data": str(path), "label": "my prices"})
    at.run()
    assert not at.exception
    assert at.session_state["source"]["data"] == str(path)
    assert any("my prices" in c.value for c in at.sidebar.caption)
    assert at.query_params["data"] in (str(path), [str(path)])


def test_url_with_unknown_run_or_forbidden_path_warns(live_registry, monkeypatch, tmp_path):
    monkeypatch.setenv("ALPHA_LAB_DATA_ROOTS", str(tmp_path / "allowed"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"run": "nope", "data": "/etc/passwd"})
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "nope" in warnings and "outside the folders" in warnings
    assert at.session_state["source"]["data"] == "demo"


# ----------------------------------------------------------------------------- Performance
def test_performance_shows_worst_drawdowns_yearly_and_the_report(live_registry):
    from alpha_core.evaluation import views

    run_id = live_registry["normal"]
    run = load_run(run_id, live_registry["root"])
    at = app("pages/3_Performance.py", run_id).run()
    assert not at.exception, [e.value for e in at.exception]
    net = "long_short_net" if "long_short_net" in views.series_for(run.daily) else "long_short"
    shown = next(d.value for d in at.dataframe if "trough" in d.value.columns)
    want = views.worst_drawdowns(run.daily, net)
    assert list(shown["depth"]) == pytest.approx(want["depth"].to_list())
    assert [d.date() if hasattr(d, "date") else d for d in shown["trough"]] == want[
        "trough"
    ].to_list()
    at.button(key="build_report").click().run()
    assert not at.exception
    button = at.get("download_button")[0]
    assert button.proto.label.startswith("Download the report")


# ----------------------------------------------------------------------------- Tear sheet
def test_tear_sheet_shows_the_engines_ic_statistics(live_registry):
    from alpha_core.evaluation import tearsheet as ts

    run_id = live_registry["normal"]
    run = load_run(run_id, live_registry["root"])
    at = app("pages/8_Tear_sheet.py", run_id).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = next(d.value for d in at.dataframe if "statistic" in d.value.columns)
    want = ts.ic_summary(ts.daily_ic(ts.factor_data(run.predictions))["ic"])
    values = dict(zip(shown["statistic"], shown["value"], strict=True))
    assert values["IC mean"] == pytest.approx(want["mean"])
    assert values["t-stat"] == pytest.approx(want["t_stat"])
    assert values["p-value"] == pytest.approx(want["p_value"])
    # the demo has sectors: the IC by sector table is drawn, equal to the engine's
    by_sector = next(d.value for d in at.dataframe if "ic_mean" in d.value.columns)
    engine = ts.ic_by_group(ts.factor_data(run.predictions), "sector")
    assert list(by_sector["group"]) == engine["group"].to_list()
    assert list(by_sector["ic_mean"]) == pytest.approx(engine["ic_mean"].to_list())
    at.selectbox(key="ts_horizon").set_value(5).run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "statistic" in d.value.columns)
    want5 = ts.ic_summary(ts.daily_ic(ts.factor_data(run.predictions, 5))["ic"])
    assert dict(zip(shown["statistic"], shown["value"], strict=True))["IC mean"] == pytest.approx(
        want5["mean"]
    )


# ----------------------------------------------------------------------------- Train form
def test_train_form_says_where_its_values_come_from_and_resets(live_registry):
    from alpha_core.config import defaults_for_data

    run_id = live_registry["normal"]
    run = load_run(run_id, live_registry["root"])
    at = app("pages/2_Train.py", run_id).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = lambda: [c.value.replace("\\", "") for c in at.caption]  # noqa: E731
    assert any("the current run, normal run" in c for c in captions())
    assert at.number_input(key="cfg.model.n_estimators").value == run.config.model.n_estimators
    at.number_input(key="cfg.model.n_estimators").set_value(9).run()
    at.button(key="form_reset").click().run()
    assert not at.exception
    panel = live_registry["panel"]
    defaults = defaults_for_data(panel["date"].unique().sort().to_list(), demo=True, saved_runs=2)
    assert at.number_input(key="cfg.model.n_estimators").value == defaults.model.n_estimators
    assert any("defaults for this dataset" in c for c in captions())
    at.button(key="form_from_run").click().run()
    assert at.number_input(key="cfg.model.n_estimators").value == run.config.model.n_estimators
