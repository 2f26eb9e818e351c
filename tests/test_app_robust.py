"""The dashboard with damaged runs and hostile text (AppTest).

- Damaged run folders (invalid JSON, a truncated or altered model): the app starts and every
  page renders, even when the newest run is the damaged one; the damage is shown as a
  message (the sidebar lists skipped folders, run pages say why the run cannot be shown).
- User text (run names, tickers, file names) never renders as Markdown or HTML: every
  Markdown-bearing element holds it escaped by ``alpha_ui.text.plain``, and a lint of the
  page sources checks that every interpolated value there goes through ``plain``.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import string
import sys
import zipfile
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
from alpha_core.research.pipeline import run_experiment  # noqa: E402
from alpha_core.runs.registry import list_runs, save_run, scan_runs  # noqa: E402
from alpha_ui import nav  # noqa: E402
from alpha_ui.text import JOINER, plain, shown  # noqa: E402

PAGES = tuple(page.path for page in nav.PAGES)
RUN_PAGES = tuple(page.path for page in nav.PAGES if page.shows_run)
"""Pages that show a run, as each page declares it (by calling ``layout.require_run()``)."""
EVIL = (
    "![x](http://evil/x.png) [link](http://evil) <img src=x> www.evil.com "
    "<https://evil.example> me@evil.example"
)


def tiny(name: str, seed: int) -> RunConfig:
    return RunConfig(
        train_start=date(2022, 1, 3),
        train_end=date(2024, 10, 1),
        model=ModelParams(n_estimators=5, num_leaves=6, max_depth=3),
        name=name,
        seed=seed,
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Two tiny demo runs: 'good' (older) and one named with hostile Markdown/HTML."""
    root = tmp_path_factory.mktemp("robust-registry")
    panel = load_panel("demo")
    ids = {}
    for key, name, seed in (("good", "good run", 1), ("evil", EVIL, 2)):
        result = run_experiment(tiny(name, seed), panel)
        save_run(result, root, {"data": "demo"})
        ids[key] = result.run_id
    return {"root": root, "ids": ids}


def registry_copy(saved, dest: Path, *keys: str) -> dict[str, Path]:
    """A registry holding copies of the saved runs ``keys`` (in that order of age)."""
    out = {}
    for key in keys:
        out[key] = dest / saved["ids"][key]
        shutil.copytree(saved["root"] / saved["ids"][key], out[key])
    return out


def app(page: str, run_id: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if page != "app.py":
        at.switch_page(page)
    if run_id is not None:
        at.session_state["run_id"] = run_id
    for key, value in state.items():
        at.session_state[key] = value
    return at


def newest_copy(folder: Path, run_id: str) -> Path:
    """A copy of a run folder under a newer id and creation time (it becomes the newest)."""
    copy = folder.parent / run_id
    shutil.copytree(folder, copy)
    meta = json.loads((copy / "meta.json").read_text())
    meta.update(run_id=run_id, created="2999-01-01T00:00:00+00:00", name="newest")
    (copy / "meta.json").write_text(json.dumps(meta))
    return copy


# ----------------------------------------------------------------------------- damage
@pytest.fixture
def damaged_registry(saved, tmp_path, monkeypatch):
    """'good', plus: the newest run with an altered model (listed, cannot load), a folder
    with invalid JSON and one with a truncated model (both skipped by the listing)."""
    root = tmp_path / "runs"
    root.mkdir()
    good = registry_copy(saved, root, "good")["good"]
    altered = newest_copy(good, "29990101-000000-000000-altered")
    text = bytearray((altered / "model.txt").read_bytes())
    text[len(text) // 2] ^= 1
    (altered / "model.txt").write_bytes(bytes(text))
    broken = newest_copy(good, "29990101-000000-000001-badjson")
    (broken / "config.json").write_text("{")
    cut = newest_copy(good, "29990101-000000-000002-cutmodel")
    (cut / "model.txt").write_bytes((cut / "model.txt").read_bytes()[:1000])
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    return {"root": root, "good": good.name, "altered": altered.name}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_when_the_newest_run_is_damaged(damaged_registry, page):
    at = app(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["run_id"] == damaged_registry["altered"]  # newest listed run
    (note,) = [w.value for w in at.sidebar.warning]
    assert note.startswith("2 damaged run folder(s) skipped (")
    for folder, problem in (
        ("29990101-000000-000001-badjson", "config.json is not valid JSON ("),
        ("29990101-000000-000002-cutmodel", "model.txt has 1,000 bytes, not the "),
    ):
        assert f"{plain(folder)}: {plain(problem)}" in note
    errors = [e.value for e in at.error]
    if page in (*RUN_PAGES, "app.py"):
        (error,) = errors
        assert error.startswith("This run cannot be shown: run ")
        assert plain("altered is damaged: ") in error and "checksum mismatch" in error
    else:
        assert errors == []


@pytest.mark.parametrize("page", RUN_PAGES)
def test_picking_a_healthy_run_shows_it_beside_damaged_ones(damaged_registry, page):
    at = app(page, damaged_registry["good"]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.sidebar.warning) == 1


def test_compare_lists_damaged_folders_and_deletes_one(damaged_registry):
    root = damaged_registry["root"]
    at = app("pages/6_Compare.py").run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table.columns) == ["folder", "problem"]
    assert sorted(table["folder"]) == [
        "29990101-000000-000001-badjson",
        "29990101-000000-000002-cutmodel",
    ]
    at.multiselect(key="cmp_runs").set_value(
        [damaged_registry["altered"], damaged_registry["good"]]
    ).run()
    assert not at.exception
    (warning,) = [w.value for w in at.main.warning]
    assert warning.startswith("No equity curve for newest") and "checksum mismatch" in warning
    at.selectbox(key="damaged_pick").set_value("29990101-000000-000001-badjson").run()
    at.button(key="delete_damaged_btn").click().run()
    assert not at.exception
    assert [d.run_id for d in scan_runs(root).damaged] == ["29990101-000000-000002-cutmodel"]
    assert {i.run_id for i in list_runs(root)} == {
        damaged_registry["good"],
        damaged_registry["altered"],
    }


# ----------------------------------------------------------------------------- rendering
DANGER = re.compile(r"(?<!\\)<|(?<!\\)\]\(")
"""Markdown/HTML that would fetch or link in the source: an unescaped tag, a link or image
target."""
AUTOLINK = re.compile(r"https?://|www\.|[-.\w+]@[-\w]", re.IGNORECASE | re.ASCII)
"""What Streamlit's Markdown (remark-gfm's autolink literals) links in the text once the
escapes are resolved: ``http://``, ``https://``, ``www.`` and ``name@host`` (its patterns,
``\\w`` being ASCII as in JavaScript)."""


def linkable(markdown: str) -> list[str]:
    """Links a Markdown source would get: link syntax in the source, or an address the
    renderer autolinks in the text after the backslash escapes are resolved."""
    text = re.sub(r"\\([" + re.escape(string.punctuation) + r"])", r"\1", markdown)
    return DANGER.findall(markdown) + AUTOLINK.findall(text)


def markdown_sources(at: AppTest) -> list[str]:
    """The Markdown source of every element and widget label Streamlit renders as Markdown."""
    out = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "title"):
        out += [el.value for el in getattr(at, kind)]
    out += [el.value for el in at.subheader] + [el.value for el in at.header]
    out += [el.proto.body for el in at.get("toast")]
    for kind in ("checkbox", "button", "text_input", "selectbox", "radio", "multiselect"):
        out += [el.label for el in getattr(at, kind)]
    out += [el.label for el in at.expander]
    return out


@pytest.fixture
def hostile(saved, tmp_path, monkeypatch):
    """The evil-named run as current run, on a dataset whose label and a ticker are evil."""
    root = tmp_path / "runs"
    root.mkdir()
    registry_copy(saved, root, "good", "evil")
    panel = load_panel("demo").filter(pl.col("date") >= date(2024, 6, 1))
    assets = panel["asset"].unique().sort().to_list()[:4]
    data = panel.filter(pl.col("asset").is_in(assets)).with_columns(
        pl.when(pl.col("asset") == assets[0]).then(pl.lit(EVIL)).otherwise("asset").alias("asset"),
        pl.when(pl.col("asset") == assets[0]).then(0.0).otherwise("volume").alias("volume"),
    )
    path = tmp_path / "prices.csv"
    data.drop("sector", "asset_class").write_csv(path)
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    source = {"data": str(path), "metadata": None, "label": f"{EVIL}.csv (uploaded)"}
    return {"run_id": saved["ids"]["evil"], "source": source}


@pytest.mark.parametrize("page", PAGES)
def test_hostile_names_render_as_plain_text_on_every_page(hostile, page):
    at = app(page, hostile["run_id"], source=hostile["source"]).run()
    assert not at.exception, [e.value for e in at.exception]
    sources = markdown_sources(at)
    for text in sources:
        assert not linkable(text), text
    named = [t for t in sources if plain(EVIL) in t]
    if page in ("app.py", "pages/1_Data.py", "pages/2_Train.py", "pages/6_Compare.py"):
        assert named, sources  # the name or label is shown, escaped
    if page == "app.py":  # run name, dataset label and the evil ticker's quality finding
        assert any(t.startswith(f"**{plain(EVIL)}** - ") for t in sources)
        assert any(plain(f"{EVIL}.csv (uploaded)") in t for t in sources)
        assert any("zero volume" in t and plain(EVIL) in t for t in sources), sources


def test_compare_delete_confirmation_label_is_escaped(hostile):
    at = app("pages/6_Compare.py", source=hostile["source"]).run()
    at.selectbox(key="manage_run").set_value(hostile["run_id"]).run()
    run_id = hostile["run_id"]
    label = at.checkbox(key=f"confirm_{run_id}").label
    assert label == f"Yes, delete {plain(f'{EVIL} ({run_id[:15]})')} permanently"


def test_plain_escapes_every_markdown_trigger_and_reads_the_same():
    text = "a*b_c `d` # e\n- f | g $x$ :red[h] ~i~ \\ & < > ! [ ] ( ) http://x www.y"
    escaped = plain(text)
    i = 0
    while i < len(escaped):  # every punctuation character is escaped, nothing else is
        if escaped[i] == "\\":
            assert escaped[i + 1] in string.punctuation, escaped[i:]
            i += 2
        else:
            assert escaped[i] not in string.punctuation, escaped[i:]
            i += 1
    assert "\n" not in escaped
    assert shown(escaped) == text.replace("\n", " ")
    assert plain(42) == "42" and plain("Ünïcode ok") == "Ünïcode ok"


ADDRESSES = [
    "http://evil.example/x?a=1", "https://evil.example", "www.x.com", "WWW.X.COM/a",
    "[x](http://y.example)", "<http://z.example>", "see http://www.evil.example now",
    "HTTPS://CAPS.example", "mailto:me@evil.example", "me@evil.example", "run:https://a.b",
    "![i](https://evil.example/p.png)", "wwww.x.com", "a.www.x.com",
]  # fmt: skip


@pytest.mark.parametrize("text", ADDRESSES)
def test_plain_leaves_no_address_to_autolink_and_reads_the_same(text):
    """Backslash escapes alone leave the address for the renderer's second pass (it links
    ``http://``, ``www.`` and ``name@host`` in the text after the escapes are resolved); the
    joiner ``plain`` adds breaks each one, invisibly."""
    escaped_only = re.sub("([" + re.escape(string.punctuation) + "])", r"\\\1", text)
    assert linkable(escaped_only), "the check sees what escaping alone leaves"
    assert not linkable(plain(text)), plain(text)
    assert shown(plain(text)) == text  # reads the same: the joiner is invisible
    assert set(plain(text)) - set(text) <= {"\\", JOINER}


# ----------------------------------------------------------------------------- the lint
MARKDOWN_CALLS = {
    "markdown", "caption", "info", "success", "warning", "error", "toast", "title",
    "subheader", "header", "write", "checkbox", "button", "expander", "download_button",
    "progress", "metric", "text_input", "selectbox", "slider", "radio", "multiselect",
    "select_slider", "number_input", "date_input", "page_link", "form_submit_button",
    "file_uploader", "toggle",
}  # fmt: skip
TRUSTED = {
    "run_id", "last",  # run ids: the registry's strict pattern (letters, digits, - and _)
    "lo", "hi", "day",  # dates
    "entry.title", "entry.blurb", "label", "section",  # declared by the code, not users
    "uploads.MAX_UPLOAD_MB", "uploads.DATA_ROOTS_ENV", "side.capitalize()", "len(assets)",
    "tables['long'].height", "tables['short'].height",
    "format_value(m.get('sharpe_ci_low'), 'num')", "format_value(m.get('sharpe_ci_high'), 'num')",
}  # fmt: skip


def test_every_value_shown_as_markdown_goes_through_plain():
    """A value interpolated into Markdown must be ``plain(...)``, a number with a format
    spec, or one of the TRUSTED expressions (not user text)."""
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    files += sorted((ROOT / "alpha_ui").glob("*.py"))
    unescaped = []
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in MARKDOWN_CALLS:
                continue
            texts = [
                *node.args[:1],
                *(k.value for k in node.keywords if k.arg in ("text", "label")),
            ]
            for value in (
                v for t in texts for v in ast.walk(t) if isinstance(v, ast.FormattedValue)
            ):
                expr = value.value
                if isinstance(expr, ast.Call) and getattr(expr.func, "id", "") == "plain":
                    continue
                if value.format_spec is not None or ast.unparse(expr) in TRUSTED:
                    continue
                unescaped.append(f"{file.name}:{value.lineno}: {ast.unparse(expr)}")
    assert unescaped == []


BODY_CALLS = {
    "markdown", "caption", "info", "success", "warning", "error", "toast", "title",
    "subheader", "header", "write",
}  # fmt: skip
"""Calls whose first argument is the Markdown body."""
ESCAPING = {"plain", "damaged_note"}
"""Functions returning Markdown whose user text went through ``plain``."""


def _escaped(expr: ast.expr) -> bool:
    """``expr`` builds Markdown only from constants, f-strings (checked above), ``plain``
    calls, TRUSTED expressions and joins, sums and choices of those."""
    if isinstance(expr, ast.Constant | ast.JoinedStr) or ast.unparse(expr) in TRUSTED:
        return True
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _escaped(expr.left) and _escaped(expr.right)
    if isinstance(expr, ast.IfExp):
        return _escaped(expr.body) and _escaped(expr.orelse)
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Name) and func.id in ESCAPING:
            return True
        if isinstance(func, ast.Attribute) and func.attr == "join" and len(expr.args) == 1:
            (items,) = expr.args
            if isinstance(items, ast.GeneratorExp | ast.ListComp):
                return _escaped(func.value) and _escaped(items.elt)
    return False


def test_no_markdown_body_or_label_is_a_bare_value():
    """What is not an f-string (a variable, a concatenation, a join) is checked too: a run
    name, note, tag or ticker joined into a message must be ``plain`` as well."""
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    files += sorted((ROOT / "alpha_ui").glob("*.py"))
    bare = []
    for file in files:
        if "import streamlit" not in file.read_text():
            continue  # e.g. uploads.py: its ``out.write(chunk)`` writes a file
        for node in ast.walk(ast.parse(file.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            texts = [k.value for k in node.keywords if k.arg in ("text", "label")]
            if node.func.attr in BODY_CALLS:
                texts += node.args[:1]
            elif node.func.attr in MARKDOWN_CALLS - {"progress", "page_link"}:
                texts += node.args[:1]  # a widget's label
            elif node.func.attr not in MARKDOWN_CALLS:
                continue
            bare += [
                f"{file.name}:{node.lineno}: {ast.unparse(t)}" for t in texts if not _escaped(t)
            ]
    assert bare == []


def test_escaped_text_is_never_put_in_a_code_span():
    """Backslash escapes are shown literally inside backticks: ``plain`` text goes outside."""
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    files += sorted((ROOT / "alpha_ui").glob("*.py"))
    offenders = [f.name for f in files if "`{plain(" in f.read_text()]
    assert offenders == []


# ----------------------------------------------------------------------------- upload errors
def unescaped(text: str) -> str:
    """A Markdown string as the reader sees it (``plain``'s backslashes and joiners removed)."""
    return shown(text)


def upload_error(root: Path, files: list[tuple[str, bytes]]) -> str:
    """Upload ``files`` (prices, then optional metadata) on the Data page, press Use this
    dataset, and return the one error shown, as the reader sees it."""
    at = app("pages/1_Data.py").run()
    at.radio(key="data_kind").set_value("Upload a file").run()
    for key, (name, content) in zip(("data_upload", "meta_upload"), files, strict=False):
        at.get_by_key(key).set_value((name, content, "application/octet-stream"))
    at.run()
    at.button(key="use_data").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["source"]["data"] == "demo"  # nothing adopted
    (error,) = [unescaped(e.value) for e in at.error]
    return error


def test_upload_errors_name_the_users_file_not_a_server_path(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(root))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    good = b"date,asset,close\n2024-01-02,A,1\n2024-01-03,A,2\n"
    cases = [  # (files uploaded, what the message must say)
        ([("prices.csv", b"date,asset\n2024-01-02,A\n")], "prices.csv: no close column"),
        ([("données 2024.csv", b"")], "données 2024.csv: file is empty"),
        ([("prices.zip", b"PK\x03\x04 not a zip")], "prices.zip: not a readable zip file"),
        ([("prices.csv", good), ("sectors.csv", b"sector\nTech\n")],
         "sectors.csv: metadata has no asset column"),
    ]  # fmt: skip
    for files, expected in cases:
        error = upload_error(root, files)
        assert error.startswith(f"This file cannot be used: {expected}"), error
        assert str(tmp_path) not in error and ".uploads" not in error, error
    zipped = tmp_path / "bad.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("AAA.csv", "")
    error = upload_error(root, [("my prices.zip", zipped.read_bytes())])
    assert error.startswith("This file cannot be used: my prices.zip:AAA.csv: file is empty")
    assert str(tmp_path) not in error and ".uploads" not in error, error


def test_a_linked_upload_that_fails_is_named_by_its_file_not_its_path(tmp_path, monkeypatch):
    """A session restored from a link does not know the original name: the stored name
    without its hash prefix is shown, never the server's folders."""
    from alpha_ui import uploads

    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path / "runs"))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")
    stored = uploads.save_upload("prices.csv", b"date,asset\n2024-01-02,A\n")
    source = {"data": str(stored), "metadata": None, "label": "prices.csv (uploaded)"}
    at = app("pages/2_Train.py", source=source).run()
    (error,) = [unescaped(e.value) for e in at.error]
    assert error.startswith("The dataset cannot be loaded: prices.csv: no close column"), error
    assert str(tmp_path) not in error and stored.name not in error
