"""The dashboard's pages, declared once: the sidebar, Home's links and the page tests read
:data:`PAGES`. To add a page, add its script under ``pages/`` and one :class:`Page` here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """One page: its script (relative to the app root), title, icon and Home-link blurb."""

    path: str
    title: str
    icon: str
    blurb: str = ""


HOME = Page("app.py", "Home", ":material/home:")
PAGES: tuple[Page, ...] = (
    HOME,
    Page(
        "pages/1_Data.py",
        "Data",
        ":material/folder_open:",
        "choose the demo universe or load your own",
    ),
    Page(
        "pages/2_Train.py",
        "Train",
        ":material/model_training:",
        "windows, model parameters, percentiles",
    ),
    Page(
        "pages/3_Performance.py",
        "Performance",
        ":material/monitoring:",
        "equity, drawdowns, IC",
    ),
    Page(
        "pages/4_Explain.py",
        "Explain",
        ":material/search_insights:",
        "SHAP importance and reasons",
    ),
    Page(
        "pages/5_Books.py",
        "Books",
        ":material/menu_book:",
        "daily long/short books and CSV export",
    ),
    Page(
        "pages/6_Compare.py",
        "Compare",
        ":material/compare_arrows:",
        "runs side by side, rename, delete",
    ),
)


def page_named(title: str) -> Page:
    """The page with this title (raises KeyError naming it)."""
    for page in PAGES:
        if page.title == title:
            return page
    raise KeyError(f"no page titled {title!r}")
