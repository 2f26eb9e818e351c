"""Performance: equity curves, drawdowns, metrics, monthly returns, rolling Sharpe and IC."""

from __future__ import annotations

import streamlit as st

from alpha_core import views
from alpha_core.views import report
from alpha_ui import cache, charts, layout
from alpha_ui.text import plain

ICON = ":material/monitoring:"
VOLS = ("predicted_vol_annual", "realised_vol_annual")

layout.page(__file__)
st.title("Performance")
run_id, result = layout.require_run()
daily = result.daily
periods = int(result.metrics.get("periods_per_year") or 252)
net = "long_short_net" if "long_short_net" in views.series_for(daily) else "long_short"
st.caption(
    f"Run `{run_id}` - test {plain(result.metrics.get('test_start'))} .. "
    f"{plain(result.metrics.get('test_end'))}"
    f" - long {result.config.long_pct:.0%} / short {result.config.short_pct:.0%}"
    f" - costs {getattr(result.config, 'cost_bps', 0):g} bps per unit turnover"
)

if st.button("Build the HTML report of this run", key="build_report"):
    panel = cache.run_panel(result.config)
    st.session_state["report_html"] = (run_id, cache.service().report_html(run_id, panel))
built = st.session_state.get("report_html")
if built and built[0] == run_id:
    st.download_button(
        "Download the report (one self-contained HTML file)",
        built[1],
        file_name=f"{run_id}-report.html",
        mime="text/html",
        key="download_report",
    )

layout.headline(result.metrics)
left, right = st.columns([3, 2])
with left:
    series = views.series_for(daily)
    st.altair_chart(charts.equity(views.equity_frame(daily, series)), width="stretch")
    st.altair_chart(charts.drawdown(views.drawdown_frame(daily, series)), width="stretch")
with right:
    st.subheader("Metrics")
    costs = views.headline(result.metrics).costs
    st.caption(
        "By section, the five read first on top; values net of costs, gross beside."
        if costs
        else "By section, the five read first on top; no costs modelled: gross figures."
    )
    sections = views.sections_table(result.metrics)
    layout.table(
        sections if costs else sections.drop("gross"),
        hide_index=True,
        height=420,
        key="metric_sections",
        column_config={"value": "net of costs" if costs else "value"},
    )

c1, c2 = st.columns(2)
with c1:
    window = st.select_slider("Rolling window (days)", [21, 42, 63, 126], value=63, key="roll_w")
    st.altair_chart(
        charts.rolling_sharpe(views.rolling_sharpe(daily, window, periods=periods), window),
        width="stretch",
    )
with c2:
    st.altair_chart(charts.rank_ic(views.ic_frame(result.predictions)), width="stretch")
st.subheader(f"Returns by month and year ({plain(views.SERIES_LABELS[net].lower())})")
m1, m2 = st.columns([4, 1])
m1.altair_chart(charts.monthly_heatmap(views.monthly_returns(daily, net)), width="stretch")
m2.altair_chart(charts.yearly_bars(views.yearly_returns(daily, net)), width="stretch")

d1, d2 = st.columns([3, 2])
with d1:
    st.subheader("Worst drawdowns")
    worst = views.worst_drawdowns(daily, net)
    layout.table(
        worst,
        hide_index=True,
        key="worst_drawdowns",
        column_config={
            "depth": st.column_config.NumberColumn("depth", format="percent"),
            "length": st.column_config.NumberColumn("length (trading days)"),
        },
    )
with d2:
    st.altair_chart(charts.turnover(views.turnover_frame(daily)), width="stretch")
for column, what in (("sector", "sector"), ("asset_class", "asset class")):
    frame = views.exposure_by_group(result.books, column)
    if frame.height and frame["group"].n_unique() > 1:
        st.altair_chart(charts.exposure(frame, f"Net exposure by {what}"), width="stretch")

if getattr(result, "attribution", None) is not None and result.attribution.height:
    st.subheader("Attribution")
    a1, a2 = st.columns(2)
    a1.altair_chart(
        charts.attribution(views.attribution_frame(result.attribution)), width="stretch"
    )
    a2.altair_chart(
        charts.factor_exposures(views.exposure_frame(result.attribution)), width="stretch"
    )
    vols = [report.format_value(result.metrics.get(k), "pct") for k in VOLS]
    st.caption(
        "Each day's P&L = market + sectors + styles + specific + costs (the book's factor "
        "exposures at the decision date times the next day's factor returns; specific is the "
        f"rest). Predicted volatility (risk model) {plain(vols[0])} a year against "
        f"{plain(vols[1])} realised."
    )

q1, q2 = st.columns(2)
if getattr(result, "quantiles", None) is not None and result.quantiles.height:
    q1.altair_chart(charts.quantiles(result.quantiles), width="stretch")
if getattr(result, "ic_decay", None) is not None and result.ic_decay.height:
    q2.altair_chart(charts.ic_decay(result.ic_decay), width="stretch")
if getattr(result, "folds", None) is not None and result.folds.height > 1:
    st.subheader("Walk-forward folds")
    folds = views.folds_table(result.folds, result.models)
    layout.table(folds, hide_index=True, key="folds")
