"""The dashboard's pages, declared once by their own scripts.

Every ``pages/N_Name.py`` declares itself: the first line of its docstring is
``"Title: what the page is for."`` and a module-level ``ICON = ":material/..."`` names its
icon. :func:`discover` reads those two literals without running the script; the sidebar,
Home's links and the page tests all use the result, so adding a page is adding its file.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[1]
"""The folder holding ``app.py`` and ``pages/``."""
DEFAULT_ICON = ":material/article:"


@dataclass(frozen=True)
class Page:
    """One page: its script (relative to the app root), title, icon and Home-link blurb."""

    path: str
    title: str
    icon: str
    blurb: str = ""
    shows_run: bool = False
    """The page shows the current run (it calls ``layout.require_run()``)."""


HOME = Page("app.py", "Home", ":material/home:")


def discover(root: Path = APP_ROOT) -> tuple[Page, ...]:
    """Home, then every script of ``root/pages`` in Streamlit's order (numeric prefix)."""
    scripts = sorted((root / "pages").glob("*.py"), key=_order)
    return (HOME, *(read_page(path, root) for path in scripts))


def read_page(path: Path, root: Path = APP_ROOT) -> Page:
    """A page's declaration: title and blurb from its docstring, icon from ``ICON``.

    Parsed once per version of the file (every script run draws the sidebar from it).
    """
    stat = path.stat()
    return _read_page(path, root, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _read_page(path: Path, root: Path, _mtime_ns: int, _size: int) -> Page:
    tree = ast.parse(path.read_text(), filename=str(path))
    first = (ast.get_docstring(tree) or "").strip().splitlines()
    title, _, blurb = (first[0] if first else "").partition(":")
    if not title or not blurb:
        raise ValueError(f"{path}: the docstring must start with 'Title: what the page is for'")
    return Page(
        path.relative_to(root).as_posix(),
        title.strip(),
        _icon(tree) or DEFAULT_ICON,
        blurb.strip().rstrip("."),
        _calls_require_run(tree),
    )


def _calls_require_run(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "require_run"
        for node in ast.walk(tree)
    )


def _icon(tree: ast.Module) -> str | None:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "ICON" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def _order(path: Path) -> tuple[int, str]:
    prefix, _, rest = path.stem.partition("_")
    return (int(prefix), rest) if prefix.isdigit() else (10**9, path.stem)


PAGES: tuple[Page, ...] = discover()
