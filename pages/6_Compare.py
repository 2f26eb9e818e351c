"""Compare: metrics side by side, overlaid long-short equity, config diff; rename and delete.

Damaged run folders (listed apart by the registry) are shown with their problem and can be
deleted here.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from alpha_core import report, views
from alpha_core.registry import is_run_id
from alpha_ui import cache, charts, layout, session
from alpha_ui.text import plain

ICON = ":material/compare_arrows:"

layout.page(__file__)
st.title("Compare runs")
listing = cache.scan()
infos = listing.runs


def _damaged_section() -> None:
    """The damaged run folders, why, and a way to delete those with a valid run id."""
    if not listing.damaged:
        return
    st.subheader("Damaged run folders")
    st.dataframe(
        pl.DataFrame(
            {
                "folder": [d.run_id for d in listing.damaged],
                "problem": [d.problem for d in listing.damaged],
            }
        ),
        hide_index=True,
    )
    deletable = [d.run_id for d in listing.damaged if is_run_id(d.run_id)]
    if deletable:
        doomed = st.selectbox("Damaged folder", deletable, key="damaged_pick")
        if st.button("Delete this damaged folder", key="delete_damaged_btn"):
            _delete(doomed)


def _delete(run_id: str) -> None:
    try:
        cache.service().delete(run_id)
    except cache.RUN_ERRORS as exc:  # e.g. deleted meanwhile by another session
        st.error(plain(exc))
        return
    if st.session_state.get("run_id") == run_id:
        session.set_current_run(None)
    st.session_state["compare_flash"] = f"Deleted {run_id}."
    st.rerun()


if st.session_state.get("compare_flash"):
    st.success(plain(st.session_state.pop("compare_flash")))
if not infos:
    st.info("No run yet: train one on the Train page.")
    _damaged_section()
    st.stop()
by_id = {i.run_id: i for i in infos}
labels = {i.run_id: f"{i.name} ({i.run_id[:15]})" for i in infos}
default = [i.run_id for i in infos[:2]]
picked = st.multiselect(
    "Runs", list(by_id), default=default, format_func=lambda r: labels[r], key="cmp_runs"
)
picked = [r for r in picked if r in by_id]
if len(picked) >= 1:
    names = {}
    for r in picked:  # display names must be unique column headers
        n = by_id[r].name
        names[r] = n if n not in names.values() else f"{n} ({r[:15]})"
    st.subheader("Metrics")
    st.dataframe(
        report.metrics_comparison({names[r]: by_id[r].metrics for r in picked}), hide_index=True
    )
    frames = []
    for r in picked:
        try:
            daily = cache.load(r).daily
        except cache.RUN_ERRORS as exc:  # a damaged run: the others are still compared
            st.warning(f"No equity curve for {plain(names[r])}: {plain(exc)}")
            continue
        eq = views.equity_frame(daily, series=("long_short",))
        frames.append(eq.select("date", pl.lit(names[r]).alias("run"), "equity"))
    if frames:
        st.altair_chart(charts.overlay_equity(pl.concat(frames)), width="stretch")
    st.subheader("Config differences")
    diff = views.config_diff({names[r]: by_id[r].config for r in picked})
    if diff.height:
        st.dataframe(diff, hide_index=True)
    else:
        st.write("The selected runs have identical configurations (apart from the name).")
if len(picked) < 2:
    st.caption("Pick two or more runs to compare them.")

st.divider()
st.subheader("Manage runs")
target = st.selectbox("Run", list(by_id), format_func=lambda r: labels[r], key="manage_run")
c1, c2 = st.columns(2)
with c1:
    new_name = st.text_input("New name", value=by_id[target].name, key=f"rename_{target}")
    if st.button("Rename", key="rename_btn"):
        try:
            cache.service().rename(target, new_name)
        except cache.RUN_ERRORS as exc:
            st.error(plain(exc))
        else:
            st.success(f"Renamed to {plain(repr(new_name.strip()))}.")
            st.rerun()
with c2:
    confirm = st.checkbox(
        f"Yes, delete {plain(labels[target])} permanently", key=f"confirm_{target}"
    )
    if st.button("Delete run", type="primary", disabled=not confirm, key="delete_btn"):
        _delete(target)
_damaged_section()
