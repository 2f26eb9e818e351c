"""Performance: equity curves, drawdowns, metrics, monthly returns, rolling Sharpe and IC."""

from __future__ import annotations

import streamlit as st

from alpha_core import report, views
from alpha_ui import charts, layout
from alpha_ui.text import plain

ICON = ":material/monitoring:"

layout.page(__file__)
st.title("Performance")
run_id, result = layout.require_run()
daily = result.daily
st.caption(
    f"Run `{run_id}` - test {plain(result.metrics.get('test_start'))} .. "
    f"{plain(result.metrics.get('test_end'))}"
    f" - long {result.config.long_pct:.0%} / short {result.config.short_pct:.0%}"
    f" - costs {getattr(result.config, 'cost_bps', 0):g} bps per unit turnover"
)

left, right = st.columns([3, 2])
with left:
    series = views.series_for(daily)
    st.altair_chart(charts.equity(views.equity_frame(daily, series)), width="stretch")
    st.altair_chart(charts.drawdown(views.drawdown_frame(daily, series)), width="stretch")
with right:
    st.subheader("Metrics")
    st.dataframe(report.metrics_table(result.metrics), hide_index=True, height=420)

c1, c2 = st.columns(2)
with c1:
    window = st.select_slider("Rolling window (days)", [21, 42, 63, 126], value=63, key="roll_w")
    st.altair_chart(
        charts.rolling_sharpe(views.rolling_sharpe(daily, window), window), width="stretch"
    )
with c2:
    st.altair_chart(charts.rank_ic(views.ic_frame(result.predictions)), width="stretch")
monthly = views.monthly_returns(daily)
st.altair_chart(charts.monthly_heatmap(monthly), width="stretch")

q1, q2 = st.columns(2)
if getattr(result, "quantiles", None) is not None and result.quantiles.height:
    q1.altair_chart(charts.quantiles(result.quantiles), width="stretch")
if getattr(result, "ic_decay", None) is not None and result.ic_decay.height:
    q2.altair_chart(charts.ic_decay(result.ic_decay), width="stretch")
if getattr(result, "folds", None) is not None and result.folds.height > 1:
    st.subheader("Walk-forward folds")
    st.dataframe(result.folds, hide_index=True)
