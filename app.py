"""Alpha Lab dashboard, Home page: the dataset in use, the current run, where to go next.

Run with ``streamlit run app.py``. Pages live in ``pages/`` (classic auto-discovery).
"""

from __future__ import annotations

import streamlit as st

from alpha_core.api import PanelError, assets_by_class, live_assets
from alpha_core.views import format_value
from alpha_ui import cache, charts, jobs, layout, session
from alpha_ui.text import plain

layout.page(__file__)
st.title("Alpha Lab")
st.caption("Daily cross-sectional alpha research: train, backtest, explain and export books.")

first = session.maybe_start_first_run()


@st.fragment(run_every=1.0)
def _first_run_progress(job_id: str) -> None:
    job = jobs.get(job_id)
    if job is None:
        return
    if job.active:
        st.progress(
            job.fraction, text=f"First start: training the default demo run - {plain(job.message)}"
        )
    else:
        st.rerun()


if first is not None:
    st.info(
        "No saved run yet: training the default demo run (the founding document's configuration, "
        "500 trees). It becomes the current run when it finishes."
    )
    _first_run_progress(first.id)

left, right = st.columns([3, 2])
src = session.source()
with left:
    st.subheader("Dataset")
    st.markdown(f"**Source:** {plain(src['label'])}")
    if session.is_demo(src):
        st.caption("Simulated: fictional tickers and prices, not market data.")
    try:
        panel = session.panel()
    except PanelError as exc:
        st.error(f"The dataset cannot be loaded: {plain(exc)}")
        panel = None
    if panel is not None:
        lo, hi = panel["date"].min(), panel["date"].max()
        c1, c2, c3 = st.columns([2, 3, 4])
        c1.metric("Assets", f"{panel['asset'].n_unique():,}")
        c2.metric("Rows", f"{panel.height:,}")
        c3.markdown(f"Date span  \n**{lo} .. {hi}**  \n{panel['date'].n_unique():,} trading dates")
        st.altair_chart(charts.live_assets(live_assets(panel)), width="stretch")
with right:
    if panel is not None:
        st.subheader("Assets by class")
        layout.table(assets_by_class(panel), hide_index=True, width="stretch")
        st.subheader("Data quality")
        report = cache.quality(src["data"], src.get("metadata"))
        for line in report.summary_lines():
            st.markdown(f"- {plain(line)}")
        with st.expander(f"All findings ({report.issues.height:,})"):
            layout.table(report.issues.head(2000), hide_index=True, width="stretch")

st.divider()
st.subheader("Current run")
run_id = session.current_run_id()
result = None if run_id is None else layout.load_or_explain(run_id)
if run_id is None:
    st.write("No run yet. Train one on the **Train** page.")
elif result is not None:
    m = result.metrics
    name = next((i.name for i in cache.runs() if i.run_id == run_id), run_id)
    st.markdown(
        f"**{plain(name)}** - `{run_id}` - test {plain(m.get('test_start'))} .. "
        f"{plain(m.get('test_end'))}"
    )
    layout.headline(m)
    st.caption(
        f"Mean rank IC {plain(format_value(m.get('rank_ic_mean'), 'num4'))} - equal-weight "
        f"benchmark Sharpe {plain(format_value(m.get('benchmark_sharpe'), 'num'))}"
    )

st.subheader("Where next")
for entry in layout.pages()[1:]:
    st.page_link(entry.path, label=f"{entry.title}: {entry.blurb}", icon=entry.icon)
