"""End to end in headless Chromium: train, move a percentile slider, download books, screenshot.

Starts ``streamlit run app.py`` on a free port with an empty temporary registry, trains a
small run from the Train page, checks the Books page reacts to the long-percentile slider,
downloads the all-books CSV and compares it with the engine, and saves a 1280x800 screenshot
of every page under ``artifacts/screenshots/``.

Every wait is on a condition (an element, a text the engine predicts, charts drawn, a
finished script run), never a fixed sleep, so the test holds on a loaded CI machine.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from alpha_ui import nav

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
PAGES = tuple(
    (p.title.lower(), "" if p is nav.HOME else Path(p.path).stem.split("_", 1)[1])
    for p in nav.PAGES
)  # the URL path of pages/8_Tear_sheet.py is /Tear_sheet

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    registry = tmp_path_factory.mktemp("browser-registry")
    port = free_port()
    env = {
        **os.environ,
        "ALPHA_LAB_ARTIFACTS": str(registry),
        "ALPHA_LAB_NO_FIRST_RUN": "1",  # the test trains its own small run from the page
    }
    log = (tmp_path_factory.mktemp("log") / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600  # a guard against a hang
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 600 s")
    yield {"url": url, "registry": registry}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )  # fmt: skip
        yield b
        b.close()


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (no 'Running...' widget)."""
    page.wait_for_load_state("networkidle", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


CHARTS_DRAWN = """() => [...document.querySelectorAll('.vega-embed')]
    .every(e => e.querySelector('canvas, svg'))"""


def wait_drawn(page, timeout: float = 60_000) -> None:
    """Wait until every chart on the page is drawn and the browser has painted a frame."""
    page.wait_for_function(CHARTS_DRAWN, timeout=timeout)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def open_page(page, url: str, path: str, marker: str) -> None:
    page.goto(f"{url}/{path}")
    page.get_by_text(marker).first.wait_for(timeout=90_000)
    wait_idle(page)


def wait_started(page, registry: Path, name: str) -> None:
    """Wait until the Train page shows the job ``name`` running, or it is already saved.

    Leaving the page before the server handled the Train click would abandon that script
    run, and no job would start: on a busy machine the click can take seconds to arrive.
    """
    from alpha_core.runs.registry import list_runs

    running = page.get_by_text(f"Training {name}")
    deadline = time.time() + 600  # a guard against a hang
    while time.time() < deadline:
        if running.count() or any(i.name == name for i in list_runs(registry)):
            return
        page.wait_for_timeout(200)  # poll the condition
    pytest.fail(f"the job {name!r} did not start within 600 s")


MARKERS = {  # a text each page shows once drawn
    "home": "Current run",
    "data": "Upload size limit",
    "train": "Train a run",
    "performance": "Metrics",
    "explain": "Importance table",
    "books": "Daily books",
    "compare": "Manage runs",
    "desk": "Ledger",
    "tear sheet": "Factor tear sheet",
}


def download_books(page, path: Path, rows: int, attempts: int = 5) -> pl.DataFrame:
    """The every-day books CSV from the Books page, once it holds ``rows`` rows.

    Just after quick reruns a loaded browser can still hold the previous run's button for a
    moment: its file is then gone (the download is cancelled) or is the previous
    percentiles' books. Each retry waits for the page to be idle again; the condition is
    the file's content, and the attempts are a guard.
    """
    got = None
    for _ in range(attempts):
        wait_idle(page)
        try:
            with page.expect_download(timeout=60_000) as info:
                page.get_by_role("button", name=re.compile("Download every daily book")).click()
            info.value.save_as(path)
        except Exception:  # noqa: BLE001 - a cancelled download of a replaced file: retry
            continue
        got = pl.read_csv(path, try_parse_dates=True)
        if got.height == rows:
            return got
    assert got is not None, f"no download of the books succeeded in {attempts} attempts"
    return got


def book_count(page, side: str) -> int:
    text = page.get_by_text(re.compile(rf"^{side} book \(\d+\)$")).first.inner_text()
    return int(re.search(r"\((\d+)\)", text).group(1))


def test_train_rebook_download_and_screenshots(server, browser, tmp_path):
    from playwright.sync_api import expect

    from alpha_core.research.pipeline import models_meta, rebook
    from alpha_core.runs.registry import list_runs, load_run

    url, registry = server["url"], server["registry"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()

    # Train a small run from the Train page
    open_page(page, url, "Train", "Train a run")
    trees = page.get_by_label("Trees")
    trees.fill("20")
    page.get_by_label("Leaves per tree").fill("16")
    page.locator('input[aria-label="Run name"]').fill("browser run")  # has a help icon
    page.get_by_role("button", name="Train", exact=True).click()
    wait_started(page, registry, "browser run")
    try:  # the progress bar of trees built (a 20-tree run may finish before it is seen)
        page.get_by_text(re.compile(r"\d+ / 20 trees built")).first.wait_for(timeout=5_000)
        page.screenshot(path=str(SHOTS / "train_progress.png"))
    except Exception:
        pass
    # Leave the Train page through the app's own menu (same session) while it trains
    page.get_by_role("link", name="Books").first.click()
    deadline = time.time() + 600  # a guard against a hang
    while time.time() < deadline and not list_runs(registry):
        time.sleep(1)
    runs = list_runs(registry)
    assert runs, "the run was not saved within 600 s"
    run = load_run(runs[0].run_id, registry)
    assert run.config.name == "browser run" and run.model.booster.num_trees() == 20
    # Back on the Train page, the same session has adopted the finished run as current
    page.get_by_role("link", name="Train").first.click()
    page.get_by_text(f"Current run: {run.run_id}").first.wait_for(timeout=60_000)

    # Books: move the long percentile slider and see the book change
    cfg = run.config.replace(long_pct=0.10)
    books, _, _ = rebook(run.predictions, cfg, models_meta(run.models))
    last = books["date"].max()
    expected = books.filter((pl.col("date") == last) & (pl.col("side") == "long")).height
    open_page(page, url, "Books", "Daily books")
    before = book_count(page, "Long")
    assert before > 0
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    # plain text: a word joiner after the colon keeps Streamlit from linking it
    page.get_by_text(re.compile(r"shown:\W*long 10%")).first.wait_for(timeout=60_000)
    page.get_by_text(f"Long book ({expected})", exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    after = book_count(page, "Long")
    assert after < before, (before, after)

    # Download every daily book and compare with the engine at the same percentiles
    got = download_books(page, tmp_path / "books.csv", books.height)
    assert got.columns == ["date", "asset", "side", "weight", "prediction", "rank"]
    assert got.height == books.height
    assert got["asset"].to_list() == books["asset"].to_list()
    assert got["side"].to_list() == books["side"].to_list()
    assert got["weight"].to_list() == pytest.approx(books["weight"].to_list(), rel=1e-9)
    assert after == expected

    # A second (tiny) run so the Compare page has two runs to compare
    from alpha_core.config import ModelParams
    from alpha_core.data.panel import load_panel
    from alpha_core.research.pipeline import run_experiment
    from alpha_core.runs.registry import save_run

    second = run.config.replace(
        name="second run", long_pct=0.3, short_pct=0.3, model=ModelParams(n_estimators=10)
    )
    save_run(run_experiment(second, load_panel("demo")), registry, {"data": "demo"})

    # Screenshot of every page (1280x800), then the rest of the page scrolled into view
    for name, path_ in PAGES:  # a page without a marker here: wait for its title
        open_page(page, url, path_, MARKERS.get(name, name.capitalize()))
        wait_drawn(page)
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        for k in range(1, 4):  # Streamlit scrolls inside its main container, not the page
            page.mouse.move(800, 450)
            page.mouse.wheel(0, 700)
            wait_drawn(page)
            page.screenshot(path=str(SHOTS / f"{name}_scroll{k}.png"))
        assert not page.get_by_text("Traceback").count()
        assert not page.locator('[data-testid="stException"]').count()
    # Upload a small long-format CSV through the browser's file input
    small = tmp_path / "upload.csv"
    part = load_panel("demo").filter(pl.col("date") >= pl.date(2024, 1, 1))
    part.drop("sector", "asset_class").write_csv(small)
    open_page(page, url, "Data", "Upload size limit")
    page.get_by_text("Upload a file").first.click()
    page.locator('input[type="file"]').first.set_input_files(str(small))
    page.get_by_text("upload.csv").first.wait_for(timeout=60_000)  # listed by the uploader
    use = page.get_by_role("button", name="Use this dataset")
    expect(use).to_be_enabled(timeout=60_000)  # enabled once the upload is stored
    use.click()
    page.get_by_text(f"Loaded {part['asset'].n_unique()} assets").first.wait_for(timeout=60_000)
    page.get_by_text("In use: upload.csv (uploaded)").first.wait_for(timeout=10_000)
    assert list((registry / ".uploads").glob("*_upload.csv"))
    context.close()


def test_desk_produces_a_book_and_downloads_the_orders(server, browser, tmp_path):
    """Tomorrow's book on the Desk page, holdings uploaded, the orders CSV downloaded: it is
    the engine's orders for the page's own book, as broker orders (generic format)."""
    import polars as pl

    from alpha_core.data.panel import load_panel
    from alpha_core.desk.orders import make_orders, read_holdings
    from alpha_core.desk.service import DeskService
    from alpha_core.desk.tickets import TICKET_COLUMNS

    url = server["url"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    open_page(page, url, "Desk", "Download the book (CSV)")
    with page.expect_download() as got_book:
        page.get_by_role("button", name="Download the book (CSV)").click()
    book = pl.read_csv(got_book.value.path(), try_parse_dates=True)
    long_name = book.filter(pl.col("side") == "long")["asset"][0]
    other = sorted(set(load_panel("demo")["asset"].unique()) - set(book["asset"]))[0]
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(f"asset,quantity\n{long_name},10\n{other},25\n")  # one to close out
    # the demo's currencies trade ~$400k a day: 1e5 keeps every order under 10% of it
    capital = page.get_by_label("Capital")
    capital.fill("100000")
    capital.press("Enter")
    wait_idle(page)
    page.locator("input[type=file]").last.set_input_files(str(holdings))  # after the actions'
    button = page.get_by_role("button", name="Download the orders (generic CSV)")
    button.wait_for(timeout=60_000)
    with page.expect_download() as got_orders:
        button.click()
    shown = pl.read_csv(got_orders.value.path())
    as_of = book["date"][0]
    prices = DeskService.prices(load_panel("demo"), as_of)
    expected = make_orders(book, read_holdings(holdings), prices, 100_000.0, 1.0, 0.0)
    expected = expected.filter(pl.col("order_qty") != 0)
    assert shown.columns == list(TICKET_COLUMNS)
    signed = shown.with_columns(
        pl.when(pl.col("side").is_in(["BUY", "BUY_TO_COVER"])).then(pl.col("quantity"))
        .otherwise(-pl.col("quantity")).alias("order_qty")
    ).group_by("asset", maintain_order=True).agg(pl.col("order_qty").sum())  # fmt: skip
    assert signed["asset"].to_list() == expected["asset"].to_list()
    assert signed["order_qty"].to_list() == pytest.approx(expected["order_qty"].to_list())
    assert other in shown["asset"].to_list()  # the name not in the book is closed out
    assert shown["client_order_id"].n_unique() == shown.height
    context.close()


def save_tiny_run(registry: Path, name: str, seed: int) -> str:
    from datetime import date

    from alpha_core.config import ModelParams, RunConfig
    from alpha_core.data.panel import load_panel
    from alpha_core.research.pipeline import run_experiment
    from alpha_core.runs.registry import save_run

    model = ModelParams(n_estimators=4, num_leaves=8, max_depth=4)
    cfg = RunConfig(train_start=date(2024, 1, 2), train_end=date(2024, 10, 1), seed=seed,
                    model=model, name=name)  # fmt: skip
    result = run_experiment(cfg, load_panel("demo"))
    save_run(result, registry, {"data": "demo"})
    return result.run_id


def test_a_deep_link_shows_the_same_run_and_dataset_in_a_new_context(server, browser, tmp_path):
    """The dataset and the run travel in the URL: a new browser context (no session, no
    cookies) opening the link sees the linked run, not the newest, and the linked data."""
    from alpha_core.data.panel import load_panel

    url, registry = server["url"], server["registry"]
    older = save_tiny_run(registry, "linked run", 1)
    save_tiny_run(registry, "newest run", 2)  # a fresh session would otherwise open this one
    data = tmp_path / "prices.parquet"
    load_panel("demo").filter(pl.col("date") >= pl.date(2023, 1, 1)).write_parquet(data)

    first = browser.new_context(viewport={"width": 1280, "height": 800})
    page = first.new_page()
    open_page(page, url, f"Performance?run={older}&data={data}&label=linked%20data",
              "Worst drawdowns")  # fmt: skip
    page.get_by_text("Dataset: linked data").first.wait_for(timeout=30_000)
    link = page.url
    assert f"run={older}" in link and "data=" in link
    first.close()

    second = browser.new_context(viewport={"width": 1280, "height": 800})
    again = second.new_page()
    again.goto(link)
    again.get_by_text("Worst drawdowns").first.wait_for(timeout=90_000)
    wait_idle(again)
    again.get_by_text("Dataset: linked data").first.wait_for(timeout=30_000)
    sidebar = again.locator('[data-testid="stSidebar"]')
    chosen = sidebar.locator('input[aria-label="Current run"]').input_value()
    assert chosen.startswith("linked run ("), chosen
    assert f"run={older}" in again.url
    # moving to another page keeps the run and writes it back into the URL
    again.get_by_role("link", name="Tear sheet").first.click()
    again.get_by_text("Factor tear sheet").first.wait_for(timeout=90_000)
    wait_idle(again)
    assert f"run={older}" in again.url
    assert not again.locator('[data-testid="stException"]').count()
    second.close()


def test_cancel_from_the_sidebar_saves_nothing(server, browser):
    from alpha_core.runs.registry import list_runs

    url, registry = server["url"], server["registry"]
    before = {i.run_id for i in list_runs(registry)}
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    open_page(page, url, "Train", "Train a run")
    page.get_by_label("Trees").fill("3000")
    page.locator('input[aria-label="Run name"]').fill("to be cancelled")
    page.get_by_role("button", name="Train", exact=True).click()
    # Leave the Train page only once the job runs: a page switch sent before the server
    # handled the click would abandon that script run, and no job would start.
    page.get_by_role("button", name="Cancel training").wait_for(timeout=300_000)
    page.get_by_role("link", name="Performance").first.click()  # the notice is on every page
    page.wait_for_url(re.compile(r"/Performance"), timeout=300_000)
    page.get_by_role("heading", name="Performance").first.wait_for(timeout=300_000)
    cancel = page.get_by_role("button", name="Cancel training")
    cancel.wait_for(timeout=300_000)
    page.get_by_text(re.compile(r"elapsed")).first.wait_for(timeout=30_000)
    cancel.click()
    page.get_by_text("was cancelled").first.wait_for(timeout=120_000)
    assert {i.run_id for i in list_runs(registry)} == before
    assert not [p for p in registry.iterdir() if p.name.startswith(".tmp-")]
    context.close()


SIDEBAR_OPEN = """() => {
    const r = document.querySelector('[data-testid="stSidebar"]').getBoundingClientRect();
    return r.width > 0 && r.right > 0;
}"""


def test_on_a_phone_the_sidebar_closes_after_a_page_is_chosen(server, browser):
    """At 390x844 the sidebar covers the page: after a page link is clicked it closes and
    the page shows; on a wide window it stays open beside the page."""
    url = server["url"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    open_page(page, url, "", "Current run")
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert not page.evaluate(SIDEBAR_OPEN)  # a phone starts with the sidebar closed
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    page.wait_for_function(SIDEBAR_OPEN, timeout=30_000)
    sidebar.get_by_role("link", name="Data").click()
    page.wait_for_url(re.compile(r"/Data"), timeout=60_000)
    page.get_by_text("Upload size limit").first.wait_for(timeout=60_000)
    page.wait_for_function(f"() => !({SIDEBAR_OPEN})()", timeout=30_000)
    assert sidebar.get_attribute("data-collapsed") == "true"
    expect_visible = page.get_by_role("heading", name="Data").first
    expect_visible.wait_for(state="visible", timeout=10_000)
    box = expect_visible.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    context.close()

    wide = browser.new_context(viewport={"width": 1280, "height": 800})
    page = wide.new_page()
    open_page(page, url, "", "Current run")
    assert page.evaluate(SIDEBAR_OPEN)
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Data").click()
    page.get_by_text("Upload size limit").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.evaluate(SIDEBAR_OPEN)  # beside the page: left open
    wide.close()


BACKGROUND_LUMINANCE = """() => {
    const rgb = getComputedStyle(document.querySelector('[data-testid="stApp"]'))
        .backgroundColor.match(/\\d+/g).map(Number);
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255;
}"""


def test_dark_mode_follows_the_system_and_every_page_is_screenshot(server, browser):
    """A browser set to dark gets the dark theme (no base theme is configured); every page
    is saved as ``artifacts/screenshots/dark_<page>.png`` to be looked at."""
    from alpha_core.runs.registry import list_runs

    url, registry = server["url"], server["registry"]
    for k in range(2 - len(list_runs(registry))):  # run pages need runs (Compare two)
        save_tiny_run(registry, f"dark run {k}", k + 1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for scheme, dark in (("light", False), ("dark", True)):
        tall = {"width": 1280, "height": 2400}  # most of each page in one screenshot
        context = browser.new_context(viewport=tall, color_scheme=scheme)
        page = context.new_page()
        open_page(page, url, "", MARKERS["home"])
        assert (page.evaluate(BACKGROUND_LUMINANCE) < 0.3) is dark, scheme
        if dark:
            for name, path_ in PAGES:
                open_page(page, url, path_, MARKERS.get(name, name.capitalize()))
                wait_drawn(page)
                page.screenshot(path=str(SHOTS / f"dark_{name.replace(' ', '_')}.png"))
                assert not page.locator('[data-testid="stException"]').count()
        context.close()


LINKY = "http://evil.example/a www.evil.example me@evil.example <https://evil.example/b>"
"""Addresses Streamlit's Markdown would link even when backslash-escaped."""
SHOWN = "() => document.body.innerText.includes('evil.example')"
LINKS_IN_TEXT = """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"] a')]
    .map(a => a.getAttribute('href') || '')"""


def test_addresses_in_a_run_name_and_a_dataset_label_are_not_links(server, browser, tmp_path):
    """A run named with bare addresses and a dataset label holding some render as text: no
    link in any Markdown on Home, Compare and Performance (run after the screenshots, so
    the hostile run is in none of them)."""
    from urllib.parse import quote

    from alpha_core.data.panel import load_panel

    url, registry = server["url"], server["registry"]
    run_id = save_tiny_run(registry, f"run {LINKY}", 7)
    data = tmp_path / "prices.parquet"
    load_panel("demo").filter(pl.col("date") >= pl.date(2023, 1, 1)).write_parquet(data)
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    query = f"?run={run_id}&data={quote(str(data))}&label={quote(LINKY)}"
    for path, marker in (("", MARKERS["home"]), ("Compare", "Manage runs"),
                         ("Performance", "Worst drawdowns")):  # fmt: skip
        open_page(page, url, path + query, marker)
        if path != "Performance":  # it names the run in the sidebar's picker only
            page.wait_for_function(SHOWN, timeout=90_000)  # the name, shown as text
        wait_idle(page)
        assert [h for h in page.evaluate(LINKS_IN_TEXT) if "evil" in h] == [], path
        assert not page.locator('[data-testid="stException"]').count()
    shown = page.inner_text("body").replace("\u2060", "")  # the invisible word joiners
    assert f"Dataset: {LINKY}" in shown  # the label reads as it was written
    context.close()
