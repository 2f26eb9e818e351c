"""Compare: metrics side by side, overlaid long-short equity, config diff; rename and delete."""

from __future__ import annotations

import polars as pl
import streamlit as st

from alpha_core import report, views
from alpha_ui import cache, charts, layout, session

ICON = ":material/compare_arrows:"

layout.page(__file__)
st.title("Compare runs")
infos = cache.runs()
if not infos:
    st.info("No run yet: train one on the Train page.")
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
        daily = cache.load(r).daily
        eq = views.equity_frame(daily, series=("long_short",))
        frames.append(eq.select("date", pl.lit(names[r]).alias("run"), "equity"))
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
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.success(f"Renamed to {new_name.strip()!r}.")
            st.rerun()
with c2:
    confirm = st.checkbox(f"Yes, delete {labels[target]} permanently", key=f"confirm_{target}")
    if st.button("Delete run", type="primary", disabled=not confirm, key="delete_btn"):
        cache.service().delete(target)
        if st.session_state.get("run_id") == target:
            session.set_current_run(None)
        st.success("Deleted.")
        st.rerun()
