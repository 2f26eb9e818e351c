"""Shared app state: the dataset in use, the current run, caches and the page preamble.

Source of truth lives in ``st.session_state`` under plain (non-widget) keys:

- ``source``: ``{"data": "demo" | <path>, "metadata": <path> | None, "label": <text>}``
- ``run_id``: the current run (None: the newest run in the registry)
- ``job_id``: this session's training job, adopted as the current run when it finishes

Loaded panels, features and runs are cached with ``st.cache_resource`` keyed on the source
(path + modification time) or run id, so switching pages does not reload or recompute.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from alpha_core import explain
from alpha_core.config import RunConfig
from alpha_core.data import PanelError, load_panel
from alpha_core.features import build_features
from alpha_core.quality import check_quality
from alpha_core.registry import RunInfo, default_root, list_runs, load_run, run_dir
from alpha_core.result import RunResult
from alpha_core.runs import source_label
from alpha_ui import jobs, nav

MAX_UPLOAD_MB = 200
"""Must equal ``server.maxUploadSize`` in ``.streamlit/config.toml`` (stated on the Data page)."""


def _warm_up_shap() -> None:
    """Compile the fast TreeSHAP kernel in the background (about 2 s, once per process)."""
    import threading

    from alpha_core import fastshap

    if fastshap.HAVE_NUMBA and not getattr(fastshap, "_warming", False):
        fastshap._warming = True  # type: ignore[attr-defined]
        threading.Thread(target=fastshap.warm_up, name="alpha-shap-jit", daemon=True).start()


_warm_up_shap()

DEMO_SOURCE = {"data": "demo", "metadata": None, "label": source_label("demo")}


# ------------------------------------------------------------------------------ basics
def registry_root() -> Path:
    return default_root()


def uploads_dir() -> Path:
    """Uploaded files are kept here (hidden from the run list) so runs can be reproduced."""
    path = registry_root() / ".uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_upload(name: str, data: bytes) -> Path:
    """Store uploaded bytes under a content-addressed name; returns the path."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)
    path = uploads_dir() / f"{digest}_{safe}"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def owner() -> str:
    if "owner" not in st.session_state:
        st.session_state["owner"] = uuid.uuid4().hex[:12]
    return st.session_state["owner"]


def source() -> dict[str, Any]:
    if "source" not in st.session_state:
        st.session_state["source"] = dict(DEMO_SOURCE)
    return st.session_state["source"]


def is_demo(src: dict[str, Any] | str) -> bool:
    data = src["data"] if isinstance(src, dict) else src
    return data == "demo"


def _stamp(path: str | None) -> str:
    if path is None or path == "demo":
        return str(path)
    try:
        st_ = Path(path).stat()
        return f"{st_.st_mtime_ns}-{st_.st_size}"
    except OSError:
        return "missing"


# ------------------------------------------------------------------------------ caches
@st.cache_resource(max_entries=4, show_spinner="Loading the dataset ...")
def _panel(data: str, metadata: str | None, stamp: str) -> pl.DataFrame:
    return load_panel(data, metadata=metadata)


def load_source_panel(data: str, metadata: str | None = None) -> pl.DataFrame:
    """The panel of a source (cached); raises PanelError with the loader's message."""
    return _panel(data, metadata, _stamp(data) + "|" + _stamp(metadata))


def panel() -> pl.DataFrame:
    src = source()
    return load_source_panel(src["data"], src.get("metadata"))


@st.cache_resource(max_entries=4, show_spinner="Checking data quality ...")
def _quality(data: str, metadata: str | None, stamp: str):
    return check_quality(load_source_panel(data, metadata))


def quality():
    src = source()
    return _quality(src["data"], src.get("metadata"), _stamp(src["data"]))


@st.cache_resource(max_entries=4, show_spinner="Building features ...")
def _features(data: str, metadata: str | None, stamp: str, label: str, names: tuple[str, ...]):
    return build_features(load_source_panel(data, metadata), label=label, features=names)


def features_for(config: RunConfig, names: tuple[str, ...]) -> pl.DataFrame:
    stamp = _stamp(config.data) + "|" + _stamp(config.metadata)
    return _features(config.data, config.metadata, stamp, config.label, names)


@st.cache_resource(max_entries=8, show_spinner="Loading the run ...")
def _run(root: str, run_id: str, stamp: str) -> RunResult:
    return load_run(run_id, Path(root))


def load(run_id: str) -> RunResult:
    root = registry_root()
    stamp = _stamp(str(run_dir(run_id, root) / "config.json"))
    return _run(str(root), run_id, stamp)


def runs() -> list[RunInfo]:
    return list_runs(registry_root())


def run_folder(run_id: str) -> Path:
    return run_dir(run_id, registry_root())


def run_panel(config: RunConfig) -> pl.DataFrame | None:
    """The panel a run was trained on, or None when its source is no longer readable."""
    try:
        return load_source_panel(config.data, config.metadata)
    except (PanelError, OSError):
        return None


@st.cache_resource(max_entries=4, show_spinner="Computing SHAP explanations ...")
def _explanations(root: str, run_id: str) -> explain.Explanations:
    result = load(run_id)
    folder = run_dir(run_id, Path(root))
    cached = explain.load_cached(folder)
    if cached is not None:
        return cached
    feats = features_for(result.config, result.model.features)
    return explain.load_or_compute(folder, result.models or [result.model], feats, result.config)


def explanations(run_id: str) -> explain.Explanations:
    return _explanations(str(registry_root()), run_id)


# ------------------------------------------------------------------------------ current run
def current_run_id() -> str | None:
    """The session's run if it still exists, else the newest run (None: registry empty)."""
    infos = runs()
    ids = [i.run_id for i in infos]
    chosen = st.session_state.get("run_id")
    if chosen in ids:
        return chosen
    st.session_state["run_id"] = ids[0] if ids else None
    return st.session_state["run_id"]


def require_run() -> tuple[str, RunResult]:
    """The current run id and run; without one, say so and stop the page."""
    run_id = current_run_id()
    if run_id is None:
        st.info("No run yet: train one on the Train page.")
        st.stop()
    return run_id, load(run_id)


def set_current_run(run_id: str | None) -> None:
    st.session_state["run_id"] = run_id


def adopt_finished_job() -> None:
    """A finished training job of this session becomes the current run."""
    job = jobs.get(st.session_state.get("job_id"))
    if job is None or job.active:
        return
    if job.status == "done" and job.run_id:
        set_current_run(job.run_id)
        st.session_state["last_finished"] = job.run_id
    else:
        st.session_state["last_error"] = job.error
    st.session_state["job_id"] = None


def start_training(config: RunConfig, data_label: str) -> jobs.Job:
    """Start a training job for this session on the config's data source."""
    pnl = load_source_panel(config.data, config.metadata)
    job = jobs.start(config, pnl, registry_root(), owner(), data_label=data_label)
    st.session_state["job_id"] = job.id
    return job


def first_run_config() -> RunConfig:
    """The first-start run: the seed's configuration on the demo universe."""
    return RunConfig(name="default demo run")


def maybe_start_first_run() -> jobs.Job | None:
    """With an empty registry, train the default demo run once per process and root."""
    root = registry_root()
    existing = jobs.first_run_job(root)
    if existing is not None:
        return existing if existing.active else None
    if os.environ.get("ALPHA_LAB_NO_FIRST_RUN") or runs():
        return None
    if not jobs.claim_first_run(root):
        return jobs.first_run_job(root)
    config = first_run_config()
    pnl = load_source_panel("demo")
    job = jobs.start(config, pnl, root, "first-run", data_label=DEMO_SOURCE["label"])
    jobs.register_first_run(root, job)
    return job


# ------------------------------------------------------------------------------ preamble
def page(title: str, icon: str = ":material/insights:") -> None:
    """Page config, finished-job adoption and the sidebar (dataset and current run)."""
    st.set_page_config(page_title=f"{title} - Alpha Lab", page_icon=icon, layout="wide")
    owner()
    adopt_finished_job()
    for entry in nav.PAGES:
        st.sidebar.page_link(entry.path, label=entry.title, icon=entry.icon)
    st.sidebar.divider()
    src = source()
    st.sidebar.caption(f"Dataset: {src['label']}")
    infos = runs()
    if infos:
        ids = [i.run_id for i in infos]
        names = {i.run_id: f"{i.name} ({i.run_id[:15]})" for i in infos}
        st.session_state["run_pick"] = current_run_id()
        st.sidebar.selectbox(
            "Current run",
            ids,
            format_func=lambda rid: names.get(rid, rid),
            key="run_pick",
            on_change=lambda: set_current_run(st.session_state["run_pick"]),
        )
    job = jobs.get(st.session_state.get("job_id"))
    if job is not None and job.active:
        st.sidebar.info(f"Training in the background: {job.message} ({job.fraction:.0%})")
    if st.session_state.get("last_finished"):
        st.toast(f"Run {st.session_state.pop('last_finished')} finished and is now current.")
