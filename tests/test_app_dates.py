"""Dates as dates on every page (AppTest): tables, chart axes and tooltips, date pickers.

Streamlit sends a polars Date column to the browser as a timestamp and shows it as
``2024-01-02 00:00:00`` unless the column is configured as a date; a Vega-Lite date axis or
tooltip without a format can show a time of day. Every page is drawn for a walk-forward run
with costs (folds, worst drawdowns, books, quality findings, the data preview) and every
table, chart and date control is inspected.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from test_app_pages import PAGES, app, no_errors, walk_forward_config

from alpha_core.data.panel import load_panel
from alpha_core.research.pipeline import run_experiment
from alpha_core.runs.registry import save_run

DAY_FORMAT = "%Y-%m-%d"
MIDNIGHT_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]00:00")


@pytest.fixture(scope="module")
def walk_forward_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dates-registry")
    config = walk_forward_config("dates")
    result = run_experiment(config, load_panel("demo"))
    save_run(result, root, {"data": "demo"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHA_LAB_ARTIFACTS", str(root))
        mp.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
        yield result.run_id


def arrow_table(element) -> pa.Table:
    proto = element.proto
    data = proto.arrow_data.data or proto.lazy_data.initial_chunk.data
    return pa.ipc.open_stream(io.BytesIO(data)).read_all()


def table_problems(element) -> list[str]:
    """Why this table would show a time of day: a timestamp column not configured as a
    date, a time of day in a date column, or a string cell that reads like a datetime."""
    table = arrow_table(element)
    config = json.loads(element.proto.columns or "{}")
    problems = []
    for field in table.schema:
        column = table.column(field.name).to_pylist()
        if pa.types.is_timestamp(field.type):
            kind = config.get(field.name, {}).get("type_config", {})
            if kind.get("type") != "date" or kind.get("format") != "YYYY-MM-DD":
                problems.append(f"{field.name}: {field.type} shown as {kind or 'a datetime'}")
            if any(v is not None and v.time() != v.min.time() for v in column):
                problems.append(f"{field.name}: a time of day in a date column")
        elif pa.types.is_string(field.type) and any(
            isinstance(v, str) and MIDNIGHT_TEXT.search(v) for v in column
        ):
            problems.append(f"{field.name}: text with a midnight time")
    return problems


def encodings(spec: dict[str, Any]):
    """Every (channel, definition) of a Vega-Lite spec, layers and concatenations included."""
    for channel, definition in spec.get("encoding", {}).items():
        for one in definition if isinstance(definition, list) else [definition]:
            yield channel, one
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for part in spec.get(key, []):
            yield from encodings(part)
    if "spec" in spec:
        yield from encodings(spec["spec"])


def chart_problems(element) -> list[str]:
    spec = json.loads(element.proto.spec)
    problems = []
    for channel, definition in encodings(spec):
        if not isinstance(definition, dict) or definition.get("type") != "temporal":
            continue
        if channel == "tooltip" and definition.get("format") != DAY_FORMAT:
            problems.append(f"{spec.get('title')}: tooltip {definition.get('field')} unformatted")
        if channel in ("x", "y") and (definition.get("axis") or {}).get("format") != DAY_FORMAT:
            problems.append(f"{spec.get('title')}: {channel} axis without a day format")
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_every_table_and_chart_shows_dates_as_days(walk_forward_run, page):
    at = app(page, walk_forward_run).run()
    no_errors(at)
    problems = [p for t in at.dataframe for p in table_problems(t)]
    problems += [p for c in at.get("vega_lite_chart") for p in chart_problems(c)]
    assert not problems, problems
    for slider in at.select_slider:  # dates are picked with a date input, never a slider
        options = list(slider.options)
        assert not any(re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", o) for o in options), slider.label


def test_pages_with_dates_draw_them(walk_forward_run):
    """The walk above met date columns and date axes (so it can fail)."""
    seen_tables, seen_charts = 0, 0
    for page in ("app.py", "pages/1_Data.py", "pages/3_Performance.py"):
        at = app(page, walk_forward_run).run()
        seen_tables += sum(
            any(
                pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
                for f in arrow_table(t).schema
            )
            for t in at.dataframe
        )
        seen_charts += sum('"temporal"' in c.proto.spec for c in at.get("vega_lite_chart"))
    assert seen_tables >= 4 and seen_charts >= 5, (seen_tables, seen_charts)


def test_books_date_picker_snaps_to_the_book_on_or_before(walk_forward_run):
    from alpha_core.runs.registry import load_run
    from alpha_ui.cache import registry_root

    run = load_run(walk_forward_run, registry_root())
    dates = run.books["date"].unique().sort().to_list()
    friday = next(d for d in dates if d.weekday() == 4)  # a Friday's book ...
    at = app("pages/5_Books.py", walk_forward_run).run()
    picker = at.date_input(key=f"books_day_{walk_forward_run}")
    assert picker.value == dates[-1]
    picker.set_value(date.fromordinal(friday.toordinal() + 1)).run()  # ... shown for Saturday
    no_errors(at)
    assert any(b.label == f"Download the {friday} book (CSV)" for b in at.get("download_button"))
