"""What one browser session has chosen: its dataset, its current run and its training job.

Kept in ``st.session_state`` under plain (non-widget) keys:

- ``source``: ``{"data": "demo" | <path>, "metadata": <path> | None, "label": <text>}``
- ``run_id``: the current run (None: the newest run in the registry)
- ``job_id``: this session's training job, adopted as the current run when it is saved

The dataset and the run are mirrored in the URL's query parameters (``data``, ``meta``,
``label``, ``run``): :func:`apply_url` reads them once when a session starts (a reload, a
new tab or a shared link), :func:`write_url` writes them on every page.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import polars as pl
import streamlit as st

from alpha_core.api import PanelError, source_label
from alpha_core.config import RunConfig
from alpha_ui import cache, jobs, uploads

LOG = logging.getLogger(__name__)
DEMO_SOURCE = {"data": "demo", "metadata": None, "label": source_label("demo")}


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


def panel() -> pl.DataFrame:
    """The session's dataset (cached); raises PanelError with the loader's message (uploads
    named as the user named them).

    A failure the loader did not anticipate is logged and becomes a one-line PanelError too,
    so no page shows a library exception.
    """
    src = source()
    try:
        return cache.load_source_panel(src["data"], src.get("metadata"))
    except PanelError as exc:
        raise PanelError(user_message(exc)) from None
    except Exception as exc:
        LOG.exception("loading %r failed", src["data"])
        raise PanelError(
            user_message(
                f"{src['data']}: cannot be read ({type(exc).__name__}; see the server log)"
            )
        ) from None


def note_upload(stored: str, original: str) -> None:
    """Remember the name the user gave an upload stored at ``stored`` (for messages)."""
    st.session_state.setdefault("upload_names", {})[stored] = original


def user_message(error: Exception | str) -> str:
    """An error's text naming this session's uploads by the user's file names, never by
    their server paths (:func:`alpha_ui.uploads.user_message`)."""
    return uploads.user_message(str(error), st.session_state.get("upload_names"))


def current_run_id() -> str | None:
    """The session's run if it still exists, else the newest run (None: registry empty)."""
    ids = [i.run_id for i in cache.runs()]
    chosen = st.session_state.get("run_id")
    if chosen in ids:
        return chosen
    st.session_state["run_id"] = ids[0] if ids else None
    return st.session_state["run_id"]


URL_KEYS = ("data", "meta", "label", "run")


def apply_url() -> list[str]:
    """Once per session: take the dataset and the run from the URL's query parameters.

    Returns what could not be applied, as plain sentences (a path outside the server's data
    roots, a run that is not in the registry); the session then keeps its defaults.
    """
    if st.session_state.get("url_applied"):
        return []
    st.session_state["url_applied"] = True
    params = st.query_params
    problems = []
    data, meta = params.get("data"), params.get("meta") or None
    if data and data != "demo":
        try:
            uploads.check_server_path(data)
            if meta:
                uploads.check_server_path(meta)
        except PanelError as exc:
            problems.append(f"The link's dataset is not used: {exc}")
        else:
            label = params.get("label") or data.split("/")[-1]
            st.session_state["source"] = {"data": data, "metadata": meta, "label": label}
    run = params.get("run")
    if run:
        if run in {i.run_id for i in cache.runs()}:
            st.session_state["run_id"] = run
        else:
            problems.append(f"The link's run {run} is not in this registry; showing the newest.")
    return problems


def write_url() -> None:
    """Mirror the session's dataset and current run in the URL (only keys that changed)."""
    src = source()
    wanted = {
        "data": src["data"],
        "meta": src.get("metadata") or "",
        "label": "" if is_demo(src) else src.get("label", ""),
        "run": st.session_state.get("run_id") or "",
    }
    for key, value in wanted.items():
        if not value:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value


def set_current_run(run_id: str | None) -> None:
    st.session_state["run_id"] = run_id


def job() -> jobs.Job | None:
    """This session's training job, if any."""
    return jobs.get(st.session_state.get("job_id"))


def adopt_finished_job() -> None:
    """This session's job's run becomes the current run as soon as it is saved (once).

    A job still computing the run's SHAP cache stays this session's job (the sidebar shows
    its progress); an ended job is dropped after its outcome is noted for the toast.
    """
    current = job()
    if current is None:
        return
    if current.run_id and st.session_state.get("adopted_run") != current.run_id:
        set_current_run(current.run_id)
        st.session_state["adopted_run"] = current.run_id
        st.session_state["last_finished"] = current.run_id
    if current.active:
        return
    if current.status == "error":
        st.session_state["last_error"] = current.error
    elif current.status == "cancelled":
        st.session_state["last_cancelled"] = current.config.name or "the run"
    st.session_state["job_id"] = None


def run_name(run_id: str) -> str:
    """The run's name as listed (its id when it has none or is not listed)."""
    return next((i.name for i in cache.runs() if i.run_id == run_id and i.name), run_id)


def start_training(config: RunConfig, data_label: str) -> jobs.Job:
    """Start a training job for this session on the config's data source."""
    pnl = cache.load_source_panel(config.data, config.metadata)
    started = jobs.start(config, pnl, cache.registry_root(), owner(), data_label=data_label)
    st.session_state["job_id"] = started.id
    return started


def first_run_config() -> RunConfig:
    """The first-start run: the seed's configuration on the demo universe."""
    return RunConfig(name="default demo run")


def maybe_start_first_run() -> jobs.Job | None:
    """With an empty registry, train the default demo run once per process and root."""
    root = cache.registry_root()
    existing = jobs.first_run_job(root)
    if existing is not None:
        return existing if existing.active else None
    if os.environ.get("ALPHA_LAB_NO_FIRST_RUN") or cache.runs():
        return None
    if not jobs.claim_first_run(root):
        return jobs.first_run_job(root)
    pnl = cache.load_source_panel("demo")
    first = jobs.start(first_run_config(), pnl, root, "first-run", data_label=DEMO_SOURCE["label"])
    jobs.register_first_run(root, first)
    return first
