"""Engine reads shared by every page and session, cached once per server process.

Panels are keyed on their source (path + modification time and size), runs on their id and
config file, so switching pages neither reloads nor recomputes. Everything the pages do with
runs goes through the run service (:func:`service`). A run that cannot be read raises
:data:`RUN_ERRORS` (damaged, or deleted meanwhile); failures are never cached.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import streamlit as st

from alpha_core.api import (
    DamagedRun,
    DeskService,
    Listing,
    PanelError,
    QualityReport,
    Rebooked,
    RunInfo,
    RunResult,
    RunService,
    check_quality,
    default_root,
    load_panel,
)
from alpha_core.config import RunConfig
from alpha_core.views import Explanations


def service() -> RunService:
    """The run service of the registry in use (``ALPHA_LAB_ARTIFACTS`` or ./artifacts/runs)."""
    return RunService(default_root())


def desk() -> DeskService:
    """The desk service of the registry in use."""
    return DeskService(default_root())


def registry_root() -> Path:
    return service().root


def _stamp(path: str | None) -> str:
    if path is None or path == "demo":
        return str(path)
    try:
        st_ = Path(path).stat()
        return f"{st_.st_mtime_ns}-{st_.st_size}"
    except OSError:
        return "missing"


def _source_key(data: str, metadata: str | None) -> str:
    return _stamp(data) + "|" + _stamp(metadata)


# ------------------------------------------------------------------------------ data
@st.cache_resource(max_entries=4, show_spinner="Loading the dataset ...")
def _panel(data: str, metadata: str | None, stamp: str) -> pl.DataFrame:
    return load_panel(data, metadata=metadata)


def load_source_panel(data: str, metadata: str | None = None) -> pl.DataFrame:
    """The panel of a source (cached); raises PanelError with the loader's message."""
    return _panel(data, metadata, _source_key(data, metadata))


@st.cache_resource(max_entries=4, show_spinner="Checking data quality ...")
def _quality(data: str, metadata: str | None, stamp: str) -> QualityReport:
    return check_quality(load_source_panel(data, metadata))


def quality(data: str, metadata: str | None = None) -> QualityReport:
    return _quality(data, metadata, _source_key(data, metadata))


@st.cache_resource(max_entries=4, show_spinner=False)
def _fingerprint(data: str, metadata: str | None, stamp: str) -> str:
    return RunService.fingerprint(load_source_panel(data, metadata))


def family_runs(config: RunConfig) -> int:
    """The saved runs of the family of a run of ``config`` (same data and label): the
    trials its deflated Sharpe counts besides itself."""
    fingerprint = _fingerprint(
        config.data, config.metadata, _source_key(config.data, config.metadata)
    )
    return service().family_runs(config, fingerprint)


def run_panel(config: RunConfig) -> pl.DataFrame | None:
    """The panel a run was trained on, or None when its source is no longer readable."""
    try:
        return load_source_panel(config.data, config.metadata)
    except (PanelError, OSError):
        return None


# ------------------------------------------------------------------------------ runs
@st.cache_resource(max_entries=8, show_spinner="Loading the run ...")
def _run(root: str, run_id: str, stamp: str) -> RunResult:
    return RunService(Path(root)).load(run_id)


def load(run_id: str) -> RunResult:
    svc = service()
    return _run(str(svc.root), run_id, _stamp(str(svc.folder(run_id) / "config.json")))


RUN_ERRORS = (ValueError, OSError)
"""What :func:`load` raises for a run it cannot show: ``registry.DamagedRunError`` (a
ValueError naming the file) or ``registry.RunNotFoundError`` (an OSError)."""


def scan() -> Listing:
    """The registry's readable runs and damaged folders (read afresh: listing is cheap)."""
    return service().scan()


def runs() -> list[RunInfo]:
    """Readable runs, newest first."""
    return scan().runs


def damaged() -> list[DamagedRun]:
    """Folders of the registry that are not readable runs, with their problem."""
    return scan().damaged


@st.cache_resource(max_entries=4, show_spinner="Computing SHAP explanations ...")
def _explanations(root: str, run_id: str) -> Explanations:
    svc = RunService(Path(root))
    cached = svc.cached_explanations(run_id)
    if cached is not None:
        return cached
    result = load(run_id)
    return svc.explain(result, feats=_run_features(result.config))


def _run_features(config: RunConfig) -> pl.DataFrame | None:
    panel = run_panel(config)
    return None if panel is None else service().features(config, panel)


def explanations(run_id: str) -> Explanations:
    """The run's SHAP views (its folder's cache, or computed once and cached there)."""
    return _explanations(str(registry_root()), run_id)


@st.cache_resource(max_entries=32, show_spinner=False)
def _rebooked(root: str, run_id: str, changes: tuple[tuple[str, object], ...]) -> Rebooked:
    return RunService(Path(root)).rebook(load(run_id), **dict(changes))


def rebook(run_id: str, **changes: object) -> Rebooked:
    """The run's books, P&L and metrics under changed book settings (cached per setting)."""
    return _rebooked(str(registry_root()), run_id, tuple(sorted(changes.items())))


@st.cache_resource(max_entries=8, show_spinner=False)
def _all_books_csv(root: str, run_id: str, changes: tuple[tuple[str, object], ...]) -> bytes:
    books = _rebooked(root, run_id, changes).books
    return RunService.books_csv(books).encode()


def all_books_csv(run_id: str, **changes: object) -> bytes:
    """Every daily book of :func:`rebook`'s books as CSV bytes, built once per setting.

    Built when the page draws, not deferred to the click: Streamlit drops a deferred
    download's callable when quick successive reruns interrupt each other (a slider moved
    several steps), and the click then finds nothing (seen in the browser test).
    """
    return _all_books_csv(str(registry_root()), run_id, tuple(sorted(changes.items())))
