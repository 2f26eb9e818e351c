"""Tear sheet: the run's predictions judged as a factor (quantiles, IC, decay, turnover, groups).

Every number is :mod:`alpha_core.evaluation.tearsheet` (the definitions of alphalens, checked
against it).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from alpha_core.views import IC_HORIZONS, fwd_col
from alpha_core.views import tearsheet as ts
from alpha_ui import layout
from alpha_ui import tearsheet_charts as charts
from alpha_ui.text import plain

ICON = ":material/analytics:"

layout.page(__file__)
st.title("Factor tear sheet")
run_id, result = layout.require_run()
preds = result.predictions
horizons = [h for h in IC_HORIZONS if fwd_col(h) in preds.columns]
if not horizons:
    st.info("This run's predictions carry no forward returns to judge them against.")
    st.stop()
c1, c2 = st.columns(2)
horizon = c1.selectbox("Forward return horizon (trading days)", horizons, key="ts_horizon")
n_q = c2.select_slider("Quantiles", [3, 4, 5, 10], value=5, key="ts_quantiles")
data = ts.factor_data(preds, horizon, n_q)
if data.is_empty():
    st.info("No test date has three or more scored assets with a known forward return.")
    st.stop()
st.caption(
    f"Run `{run_id}`: {data.height:,} scored rows on {data['date'].n_unique():,} dates, "
    f"{horizon:d}-day forward returns. Returns are demeaned by the date's mean over the scored "
    "assets; error bars are +-1.96 standard errors of the mean of the daily figures."
)

st.subheader("Returns by quantile")
r1, r2 = st.columns(2)
r1.altair_chart(
    charts.quantile_bars(ts.quantile_returns(data), "Mean demeaned return by quantile"),
    width="stretch",
)
r2.altair_chart(charts.cumulative(ts.cumulative_by_quantile(data)), width="stretch")
st.altair_chart(charts.spread(ts.spread(data), 21), width="stretch")

st.subheader("Information coefficient")
ic = ts.daily_ic(data)
summary = ts.ic_summary(ic["ic"])
layout.table(
    pl.DataFrame(
        {
            "statistic": [
                "IC mean",
                "IC std",
                "IR (mean / std)",
                "t-stat",
                "p-value",
                "skew",
                "excess kurtosis",
                "days",
            ],  # fmt: skip
            "value": [
                summary[k] for k in ("mean", "std", "ir", "t_stat", "p_value", "skew", "kurtosis")
            ]
            + [float(ic.height)],  # fmt: skip
        }
    ),
    hide_index=True,
    key="ic_summary",
    column_config={"value": st.column_config.NumberColumn(format="%.4f")},
)
i1, i2 = st.columns(2)
i1.altair_chart(charts.ic_histogram(ic), width="stretch")
if ic.height >= 3:
    i2.altair_chart(charts.ic_qq(ts.ic_qq(ic["ic"])), width="stretch")
i3, i4 = st.columns([3, 2])
i3.altair_chart(charts.monthly_ic(ts.monthly_ic(ic)), width="stretch")
i4.altair_chart(charts.ic_decay(ts.ic_decay(preds)), width="stretch")

st.subheader("Turnover")
t1, t2 = st.columns(2)
auto = ts.rank_autocorrelation(data)
t1.altair_chart(
    charts.lines(auto, "autocorrelation", "Factor rank autocorrelation (1 day)", "Autocorrelation"),
    width="stretch",
)
turnover = ts.quantile_turnover(data)
extremes = turnover.filter(pl.col("quantile").is_in([1, n_q]))
t2.altair_chart(
    charts.lines(
        extremes, "turnover", "Turnover of the top and bottom quantiles", "Turnover", "quantile"
    ),
    width="stretch",
)
st.caption(
    f"Mean rank autocorrelation {auto['autocorrelation'].mean():.3f}; mean turnover by "
    "quantile: " + ", ".join(f"{q:d}: {t:.1%}" for q, t in ts.mean_turnover(turnover).iter_rows())
)

for column in ts.group_columns(preds):
    st.subheader(f"By {plain(column.replace('_', ' '))}")
    g1, g2 = st.columns(2)
    layout.table(ts.ic_by_group(data, column), where=g1, hide_index=True, key=f"ic_by_{column}")
    by_q = ts.quantile_returns_by_group(data, column)
    layout.table(
        by_q.pivot(on="quantile", index="group", values="mean"),
        where=g2,
        hide_index=True,
        key=f"q_by_{column}",
    )
