"""The page preamble every page starts with: page config, sidebar, and the no-run guard."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from alpha_core.api import DamagedRun, RunResult, fastshap
from alpha_core.views import headline as run_headline
from alpha_ui import cache, jobs, nav, session
from alpha_ui.text import plain


def _main_script_root() -> Path:
    """The folder of the running app's main script (where ``pages/`` is)."""
    ctx = get_script_run_ctx()
    return Path(ctx.main_script_path).parent if ctx is not None else nav.APP_ROOT


def pages() -> tuple[nav.Page, ...]:
    """The running app's pages (:func:`alpha_ui.nav.discover` on its folder)."""
    return nav.discover(_main_script_root())


def page(script: str) -> nav.Page:
    """Configure the page of ``script`` (a page passes ``__file__``) and draw the sidebar."""
    root = _main_script_root()
    pages = nav.discover(root)
    this = next((p for p in pages if (root / p.path).resolve() == Path(script).resolve()), None)
    this = this or nav.read_page(Path(script), root)
    st.set_page_config(page_title=f"{this.title} - Alpha Lab", page_icon=this.icon, layout="wide")
    fastshap.warm_up_in_background()
    session.owner()
    url_problems = session.apply_url()
    session.adopt_finished_job()
    _sidebar(pages)
    _close_sidebar_after_choice(this.path)
    session.write_url()
    for problem in url_problems:
        st.warning(plain(problem))
    return this


def _sidebar(pages: tuple[nav.Page, ...]) -> None:
    for entry in pages:
        st.sidebar.page_link(entry.path, label=entry.title, icon=entry.icon)
    st.sidebar.divider()
    st.sidebar.caption(f"Dataset: {plain(session.source()['label'])}")
    listing = cache.scan()
    infos = listing.runs
    if infos:
        ids = [i.run_id for i in infos]
        names = {i.run_id: f"{i.name} ({i.run_id[:15]})" for i in infos}
        st.session_state["run_pick"] = session.current_run_id()
        st.sidebar.selectbox(
            "Current run",
            ids,
            format_func=lambda rid: names.get(rid, rid),
            key="run_pick",
            on_change=lambda: session.set_current_run(st.session_state["run_pick"]),
        )
    if listing.damaged:
        st.sidebar.warning(damaged_note(listing.damaged))
    job = session.job()
    if job is not None and job.active:
        with st.sidebar:
            _job_notice(job.id)
    _toasts()


_CLOSE_SIDEBAR = """<script>
/* choice CHOICE */
(() => {
  const bar = document.querySelector('[data-testid="stSidebar"]');
  const main = document.querySelector('[data-testid="stMain"]');
  if (!bar || !main || bar.getAttribute("data-collapsed") !== "false") return;
  const overlays = main.getBoundingClientRect().left < bar.getBoundingClientRect().right - 1;
  if (!overlays) return;  // a wide window: the sidebar sits beside the page
  const close = bar.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (close) close.click();
})();
</script>"""


def _close_sidebar_after_choice(page_path: str) -> None:
    """On a narrow window (a phone) the sidebar covers the page: close it once the user has
    chosen a page, a run or a dataset.

    The script's text carries a digest of that choice, so Streamlit inserts (and runs) it
    again only when the choice changes, not on every rerun; where the sidebar sits beside
    the page it does nothing.
    """
    src = session.source()
    choice = f"{page_path}|{session.current_run_id()}|{src['data']}|{src.get('metadata')}"
    digest = hashlib.sha256(choice.encode()).hexdigest()[:16]
    st.html(_CLOSE_SIDEBAR.replace("CHOICE", digest), unsafe_allow_javascript=True)


def _toasts() -> None:
    """One-off notes about this session's job: saved (by the run's name), failed, cancelled."""
    if st.session_state.get("last_finished"):
        name = session.run_name(st.session_state.pop("last_finished"))
        st.toast(f"Run {plain(name)} is saved and is now the current run.")
    if st.session_state.get("last_cancelled"):
        st.toast(f"Training of {plain(st.session_state.pop('last_cancelled'))} was cancelled.")


def duration(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3700`` -> ``1:01:40``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def job_status_text(job: jobs.Job) -> str:
    """``training: 40/100 trees - 35% - 0:12 elapsed, about 0:22 left`` (plain text)."""
    parts = [job.message]
    if job.training:
        parts.append(f"{job.fraction:.0%}")
    timing = f"{duration(job.elapsed())} elapsed"
    eta = job.eta()
    if eta is not None:
        timing += f", about {duration(eta)} left"
    return " - ".join([*parts, timing])


@st.fragment(run_every=1.0)
def _job_notice(job_id: str) -> None:
    """The session's job, redrawn every second on every page, with a cancel button.

    When the run is saved (or the job fails or is cancelled) the whole page reruns, so the
    run becomes current and the toast appears without a click.
    """
    job = jobs.get(job_id)
    if job is None:
        return
    if job.run_id and st.session_state.get("adopted_run") != job.run_id:
        st.rerun()  # just saved: the run becomes current, the toast names it
    if not job.active:
        if job.status != "done":
            st.rerun()  # failed or cancelled: the page says so
        return  # SHAP done: nothing to redraw (a full rerun would cancel a download)
    doing = "Training" if job.training else "Computing SHAP for the saved run"
    name = job.config.name or "unnamed run"
    st.info(f"{plain(doing)} **{plain(name)}**: {plain(job_status_text(job))}")
    if job.training:
        st.progress(job.fraction)
        if job.cancel_requested:
            st.caption("Cancelling ...")
        elif st.button("Cancel training", key="cancel_training"):
            job.cancel()


def damaged_note(damaged: list[DamagedRun]) -> str:
    """One line naming the damaged run folders the registry skipped, and why."""
    shown = "; ".join(f"{plain(d.run_id)}: {plain(d.problem)}" for d in damaged[:5])
    more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
    return (
        f"{len(damaged)} damaged run folder(s) skipped ({shown}{more}). "
        "They can be deleted on the Compare page."
    )


def date_columns(frame: pl.DataFrame) -> dict[str, Any]:
    """``column_config`` showing every Date column of ``frame`` as a date (not a datetime)."""
    return {
        name: st.column_config.DateColumn(name, format="YYYY-MM-DD")
        for name, dtype in frame.schema.items()
        if dtype == pl.Date
    }


def dates_as_dates(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every Datetime column that holds whole days only cast to Date."""
    midnight = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
        and frame.select((pl.col(name).dt.time() == pl.time(0)).all()).item() is not False
    ]
    return frame.with_columns(pl.col(midnight).cast(pl.Date)) if midnight else frame


def table(frame: Any, *, where: Any = None, column_config: dict | None = None, **kwargs: Any):
    """``st.dataframe`` (in ``where``, default the page) with dates shown as ``YYYY-MM-DD``.

    Streamlit sends a polars Date column as a timestamp and shows it with ``00:00:00``
    unless it is configured as a date: every page table goes through here so its date
    columns are (``column_config`` given by the caller wins for its columns).
    """
    if isinstance(frame, pl.DataFrame):
        frame = dates_as_dates(frame)
        column_config = {**date_columns(frame), **(column_config or {})}
        frame = frame.to_arrow()  # sent as is: Streamlit would go through pandas first
    return (where or st).dataframe(frame, column_config=column_config, **kwargs)


def load_or_explain(run_id: str) -> RunResult | None:
    """The run, or None after an error saying why it cannot be shown (damaged, deleted)."""
    try:
        return cache.load(run_id)
    except cache.RUN_ERRORS as exc:
        st.error(
            f"This run cannot be shown: {plain(exc)}. Pick another run in the sidebar, "
            "or delete it on the Compare page."
        )
        return None


def require_run() -> tuple[str, RunResult]:
    """The current run id and run; without one (or if it is damaged), say so and stop."""
    run_id = session.current_run_id()
    if run_id is None:
        st.info("No run yet: train one on the Train page.")
        st.stop()
    result = load_or_explain(run_id)
    if result is None:
        st.stop()
    return run_id, result


def headline(metrics: dict[str, Any]) -> None:
    """The run's headline tiles (:func:`alpha_core.views.headline`, the same five figures as
    the CLI and the HTML report): net of costs with gross beside, or said to be gross."""
    top = run_headline(metrics)
    st.caption(f"Headline: {plain(top.basis)}")
    for col, figure in zip(st.columns(len(top.figures)), top.figures, strict=True):
        col.metric(plain(figure.label), figure.display)
        if figure.beside:
            col.caption(plain(figure.beside))
