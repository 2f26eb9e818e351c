"""The researcher's screens tell the truth first (issue 21): one headline, net of costs with
gross beside (or said to be gross without costs), "loses before costs" instead of a negative
break-even; the metrics in sections, each once; the DSR's trials counted in the run family
only. The same headline reaches alpha run, alpha runs, the HTML report and every page."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

import pytest
from conftest import make_panel
from test_report_stats import _daily, random_preds

from alpha_core.cli.main import main
from alpha_core.config import ModelParams, RunConfig
from alpha_core.evaluation import report
from alpha_core.evaluation.metrics import ALIASES, METRICS, compute_metrics
from alpha_core.evaluation.report import (
    NO_COSTS,
    WITH_COSTS,
    format_value,
    headline,
    metric_sections,
    sections_table,
)
from alpha_core.research.pipeline import rebook
from alpha_ui.text import plain, shown

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def costly() -> dict:
    """A rebook's metrics with trading and borrow costs."""
    _, _, metrics = rebook(random_preds(), RunConfig(cost_bps=5, borrow_bps=30, n_trials=4), {})
    return metrics


@pytest.fixture(scope="module")
def free() -> dict:
    """The same books without costs."""
    _, _, metrics = rebook(random_preds(), RunConfig(n_trials=4), {})
    return metrics


# ------------------------------------------------------------------------------ the headline
def test_headline_is_net_first_with_gross_beside_when_costs_are_modelled(costly):
    top = headline(costly)
    assert top.costs and top.basis == WITH_COSTS
    keys = [f.key for f in top.figures]
    assert keys == ["sharpe_net", "cagr_net", "max_drawdown_net", "dsr_net", "break_even_bps"]
    sharpe = top.figures[0]
    assert sharpe.label == "Net Sharpe"
    assert sharpe.value == format_value(costly["sharpe_net"], "num")
    assert sharpe.gross == format_value(costly["sharpe"], "num")
    assert sharpe.note == (
        f"95% interval [{format_value(costly['sharpe_net_ci_low'], 'num')}, "
        f"{format_value(costly['sharpe_net_ci_high'], 'num')}]"
    )
    assert top.figure("max_drawdown").gross == format_value(costly["max_drawdown"], "pct")
    dsr = top.figure("dsr")
    assert dsr.label == "Net DSR (4 trials)" and "4 trials on this data and target" in dsr.note
    lines = top.lines()
    assert lines[0] == "Headline (net of costs; gross beside)"
    assert lines[1].startswith(f"  Net Sharpe {sharpe.value} annualised (gross {sharpe.gross}")


def test_headline_without_costs_says_its_figures_are_gross(free):
    top = headline(free)
    assert not top.costs and top.basis == NO_COSTS == "no costs modelled: gross figures"
    assert [f.key for f in top.figures] == list(report.HEADLINE)
    assert [f.label for f in top.figures][:3] == ["Sharpe", "Annual return", "Max drawdown"]
    assert all(f.gross == "" for f in top.figures)  # nothing beside: there is only gross
    assert top.figures[0].value == format_value(free["sharpe"], "num")
    assert top.lines()[0] == "Headline (no costs modelled: gross figures)"
    assert top.figure("dsr").label == "DSR (4 trials)"


@pytest.mark.parametrize(
    ("sharpe", "even"),
    [(-0.4, -12.5), (0.0, 3.0), (0.8, -1.0), (0.8, 0.0)],
)
def test_a_strategy_losing_before_costs_never_shows_a_negative_break_even(costly, sharpe, even):
    metrics = {**costly, "sharpe": sharpe, "break_even_bps": even}
    figure = headline(metrics).figure("break_even_bps")
    assert figure.value == "loses before costs" and figure.display == "loses before costs"
    assert report.format_metric(METRICS["break_even_bps"], metrics) == "loses before costs"
    assert ("gross Sharpe is not above 0" in figure.note) == (sharpe <= 0)
    table = report.metrics_table(metrics)
    cells = dict(zip(table["metric"], table["value"], strict=True))
    assert cells[METRICS["break_even_bps"].label] == "loses before costs"


def test_a_strategy_making_money_before_costs_shows_its_break_even_in_bps(costly):
    metrics = {**costly, "sharpe": 1.2, "break_even_bps": 7.25}
    figure = headline(metrics).figure("break_even_bps")
    assert (figure.value, figure.display) == ("7.25", "7.25 bps")


def test_the_performance_summary_puts_the_after_costs_section_first_with_costs(costly, free):
    with_costs = report.performance_summary(costly).splitlines()
    net = next(i for i, line in enumerate(with_costs) if "Long-short, after costs" in line)
    gross = next(i for i, line in enumerate(with_costs) if "Long-short, gross" in line)
    assert net < gross
    without = report.performance_summary(free).splitlines()
    net = next(i for i, line in enumerate(without) if "Long-short, after costs" in line)
    gross = next(i for i, line in enumerate(without) if "Long-short, gross" in line)
    assert gross < net  # no costs: the gross figures are the figures


# ------------------------------------------------------------------------------ sections
def test_metrics_come_in_sections_each_once_with_the_headline_on_top(costly):
    sections = metric_sections(costly)
    names = [name for name, _ in sections]
    assert names[0] == report.READ_FIRST
    assert names[1:7] == ["Returns", "Risk", "Signal", "Costs and turnover", "Selection",
                          "Statistical confidence"]  # fmt: skip
    top = [key for key, *_ in sections[0][1]]
    assert top == [f.key for f in headline(costly).figures]
    shown = [key for _, rows in sections for key, *_ in rows]
    assert len(shown) == len(set(shown))  # no metric twice
    labels = [label for _, rows in sections for _, label, *_ in rows]
    assert len(labels) == len(set(labels))
    assert not set(shown) & set(ALIASES)  # the aliases repeat other metrics
    assert "sharpe" not in shown[5:] and "sharpe_net" not in shown[5:]  # only in the headline
    rows = {key: row for _, rows in sections for key, *row in rows}
    assert rows["total_return_net"][0] == "Total return"  # the gross label, net value
    assert rows["total_return_net"][1:3] == [
        format_value(costly["total_return_net"], "pct"),
        format_value(costly["total_return"], "pct"),
    ]
    assert rows["min_trl_net"][3] == "days"
    table = sections_table(costly)
    assert table.columns == list(report.SECTION_COLUMNS)
    assert table["unit"].filter(table["metric"] == "Annual turnover").item() == "x capital a year"


def test_every_registered_metric_has_a_section_and_every_number_a_unit():
    assert all(m.section for m in METRICS.values())
    assert [m.key for m in METRICS.values() if m.kind != "text" and not m.units] == []


# ------------------------------------------------------------------------------ the CLI
@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    a, b = folder / "a.parquet", folder / "b.parquet"
    make_panel(n_assets=10, n_days=200, seed=4).write_parquet(a)
    make_panel(n_assets=10, n_days=200, seed=5).write_parquet(b)
    return a, b


def run_args(data: Path, artifacts: Path, *flags: str) -> list[str]:
    return ["run", "--data", str(data), "--train-start", "2020-01-01", "--train-end",
            "2020-06-30", "--test-start", "2020-07-01", "--test-end", "2020-09-30",
            "--n-estimators", "5", "--num-leaves", "4", "--no-explain",
            "--artifacts", str(artifacts), *flags]  # fmt: skip


def test_alpha_run_prints_the_net_headline_first(data_files, tmp_path, capsys):
    assert main(run_args(data_files[0], tmp_path, "--cost-bps", "5", "--name", "costly")) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    first = lines.index("Headline (net of costs; gross beside)")
    assert lines[first + 1].startswith("  Net Sharpe ")
    assert "(gross " in lines[first + 1]
    assert first < next(i for i, line in enumerate(lines) if line.startswith("Performance"))


def test_alpha_runs_lists_the_net_sharpe_first(data_files, tmp_path, capsys, monkeypatch):
    assert main(run_args(data_files[0], tmp_path, "--cost-bps", "5", "--name", "costly")) == 0
    assert main(run_args(data_files[0], tmp_path, "--name", "free")) == 0
    capsys.readouterr()
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path))
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    costly = next(line for line in lines if " costly " in line)
    free = next(line for line in lines if " free " in line)
    figures = costly.split("costly", 1)[1].split()
    assert figures[0].startswith("net_sharpe=") and figures[1].startswith("gross_sharpe=")
    assert re.search(r"dsr=\S+ \(\d trials? on this data and target\)", costly)
    assert free.split("free", 1)[1].split()[0].startswith("sharpe=")
    assert "(no costs modelled: gross)" in free
    assert "break_even=" in costly and "break_even=-" not in costly


def test_alpha_report_text_shows_the_headline_and_sections(data_files, tmp_path, capsys):
    assert main(run_args(data_files[0], tmp_path, "--cost-bps", "5", "--json")) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["report", run_id, "--text", "--artifacts", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Headline (net of costs; gross beside)" in out
    for section in ("Returns", "Risk", "Signal", "Costs and turnover", "Statistical confidence"):
        assert f"\n{section}\n" in out


def test_runs_on_other_data_do_not_inflate_the_trial_count(data_files, tmp_path, capsys):
    """The DSR counts the runs of a family (same data fingerprint, same label) only."""
    a, b = data_files

    def trials(data: Path, *flags: str) -> int:
        assert main(run_args(data, tmp_path, "--json", *flags)) == 0
        return json.loads(capsys.readouterr().out)["n_trials"]

    assert [trials(a), trials(a)] == [1, 2]
    assert trials(b) == 1  # two runs on a: not trials of a run on b
    assert trials(a) == 3
    assert trials(b, "--cost-bps", "5") == 2  # costs are a trial on the same data, same target
    assert trials(a, "--label", "open_to_open") == 1  # another target: another family
    copy = tmp_path / "a-copy.parquet"  # the same data under another name: the same family
    copy.write_bytes(a.read_bytes())
    assert trials(copy) == 4
    metrics = json.loads((next(tmp_path.glob("*/metrics.json"))).read_text())
    assert len(metrics["data_fingerprint"]) == 16


# ------------------------------------------------------------------------------ HTML report
def test_the_html_report_headline_is_net_first(data_files, tmp_path, capsys):
    from alpha_core.api import RunService

    assert main(run_args(data_files[0], tmp_path, "--cost-bps", "5", "--json")) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    service = RunService(tmp_path)
    page = service.report_html(run_id)
    m = service.load(run_id).metrics
    top = headline(m)
    assert "Headline (net of costs; gross beside)</h2>" in page
    assert f"<li><b>Net Sharpe: {top.figures[0].value}</b>" in page
    assert f"(gross {format_value(m['sharpe'], 'num')})" in page
    assert page.index("Net Sharpe") < page.index("<h2>Equity</h2>")
    assert "<h3>Statistical confidence</h3>" in page
    assert f"Net DSR ({m['n_trials']} trial" in page


def test_the_html_report_of_a_losing_run_without_costs():
    from alpha_core.evaluation.html_report import headline_html

    metrics = compute_metrics(_daily(random_preds()), random_preds(), {})
    metrics = {**metrics, "cost_annual": 0.0, "trade_cost_annual": 0.0, "borrow_cost_annual": 0.0,
               "sharpe_net": -0.3, "sharpe": -0.3, "break_even_bps": -4.0}  # fmt: skip
    text = headline_html(metrics)
    assert "Headline (no costs modelled: gross figures)" in text
    assert "Break-even cost: loses before costs" in text
    assert "-4.00" not in text


# ------------------------------------------------------------------------------ the pages
@pytest.fixture(scope="module")
def app_runs(tmp_path_factory):
    """A tiny demo run with costs and one without, in a registry of their own."""
    from alpha_core.data.panel import load_panel
    from alpha_core.research.pipeline import run_experiment
    from alpha_core.runs.registry import save_run

    root = tmp_path_factory.mktemp("registry")
    panel = load_panel("demo")
    base = RunConfig(
        train_start=dt.date(2021, 1, 4),
        train_end=dt.date(2024, 10, 1),
        model=ModelParams(n_estimators=6, num_leaves=8, max_depth=4),
    )
    runs = {}
    for name, cost in (("with-costs", 5.0), ("no-costs", 0.0)):
        result = run_experiment(base.replace(name=name, cost_bps=cost), panel)
        save_run(result, root, {"data": "demo"})
        runs[name] = result
    return root, runs


def app(root: Path, page: str, run_id: str | None, monkeypatch):
    from streamlit.testing.v1 import AppTest

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if page != "app.py":
        at.switch_page(page)
    if run_id is not None:
        at.session_state["run_id"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def tiles(at) -> list[tuple[str, str]]:
    return [(shown(m.label), m.value) for m in at.metric]  # labels as a reader sees them


@pytest.mark.parametrize("page", ["app.py", "pages/3_Performance.py", "pages/5_Books.py"])
def test_each_page_shows_the_net_headline_first(app_runs, page, monkeypatch):
    root, runs = app_runs
    result = runs["with-costs"]
    m = result.metrics
    at = app(root, page, result.run_id, monkeypatch)
    shown = [t for t in tiles(at) if t[0] not in ("Assets", "Rows")]
    top = headline(m)
    assert top.costs
    expected = [(f.label, f.display) for f in top.figures]
    assert shown[: len(expected)] == expected
    assert shown[0] == ("Net Sharpe", format_value(m["sharpe_net"], "num"))
    captions = [c.value for c in at.caption]
    assert f"Headline: {plain(WITH_COSTS)}" in captions
    assert plain(top.figures[0].beside) in captions  # gross beside the net Sharpe
    assert top.figures[0].beside.startswith(f"gross {format_value(m['sharpe'], 'num')}")


@pytest.mark.parametrize("page", ["app.py", "pages/3_Performance.py", "pages/5_Books.py"])
def test_each_page_says_a_run_without_costs_shows_gross_figures(app_runs, page, monkeypatch):
    root, runs = app_runs
    result = runs["no-costs"]
    at = app(root, page, result.run_id, monkeypatch)
    shown = dict(tiles(at))
    assert shown["Sharpe"] == format_value(result.metrics["sharpe"], "num")
    assert "Net Sharpe" not in shown
    assert f"Headline: {plain(NO_COSTS)}" in [c.value for c in at.caption]


def test_performance_page_lists_the_metrics_by_section(app_runs, monkeypatch):
    root, runs = app_runs
    result = runs["with-costs"]
    at = app(root, "pages/3_Performance.py", result.run_id, monkeypatch)
    table = next(d.value for d in at.dataframe if "section" in d.value.columns)
    expected = sections_table(result.metrics).to_pandas()
    assert list(table.columns) == list(expected.columns)
    assert table.values.tolist() == expected.values.tolist()
    assert table["section"].iloc[0] == report.READ_FIRST
    assert table["metric"].iloc[0] == "Net Sharpe"


def test_compare_page_shows_the_headlines_side_by_side(app_runs, monkeypatch):
    root, runs = app_runs
    at = app(root, "pages/6_Compare.py", None, monkeypatch)
    ids = [runs["with-costs"].run_id, runs["no-costs"].run_id]
    at.multiselect(key="cmp_runs").set_value(ids).run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "basis" in d.value.columns)
    rows = {r["run"]: r for r in table.to_dict("records")}
    costly, free = runs["with-costs"].metrics, runs["no-costs"].metrics
    assert rows["with-costs"]["basis"] == WITH_COSTS
    assert rows["with-costs"]["Sharpe"] == format_value(costly["sharpe_net"], "num")
    assert rows["with-costs"]["Sharpe gross"] == format_value(costly["sharpe"], "num")
    assert rows["no-costs"]["basis"] == NO_COSTS
    assert rows["no-costs"]["Sharpe"] == format_value(free["sharpe"], "num")
    assert rows["no-costs"]["Sharpe gross"] == "-"
    assert rows["no-costs"]["DSR trials"] == str(free["n_trials"])
    numbers = next(d.value for d in at.dataframe if "sharpe_net" in d.value.columns)
    assert list(numbers.columns)[1:3] == ["sharpe_net", "sharpe"]  # net first
