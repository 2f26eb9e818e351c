"""Explain: SHAP importance beside the model's own (gain) importance, beeswarm, dependence, and
per-asset reasons; a warning when date-level features carry much of the SHAP."""

from __future__ import annotations

import polars as pl
import streamlit as st

from alpha_core.views import definitions, explain, side_book
from alpha_ui import cache, charts, config_form, layout
from alpha_ui.text import plain

ICON = ":material/search_insights:"

layout.page(__file__)
st.title("Explain the model")
run_id, result = layout.require_run()
try:
    exp = cache.explanations(run_id)
except Exception as exc:  # e.g. the run's data file is gone
    st.error(f"SHAP values cannot be computed for this run: {plain(exc)}")
    st.stop()
meta = exp.meta
st.caption(
    f"Run `{run_id}`. Exact SHAP values ({plain(meta['method'])}) on all "
    f"{meta['test_rows']:,} test-window rows ({meta['seconds_test']:.2f} s when computed; cached "
    "in the run folder). "
    f"Global view: a uniform random sample of {meta['sample_rows']:,} of the "
    f"{meta['sample_population']:,} training rows (seed {plain(meta['sample_seed'])}); "
    "its mean |SHAP| carries a standard error (finite-population corrected), shown as +- 1.96 se."
)

date_level = meta.get("date_level") or explain.date_level_summary(exp.test)
if date_level["flagged"]:
    st.warning(
        f"Date-level features ({plain(', '.join(date_level['features']))}) carry "
        f"{date_level['shap_share']:.0%} of the test "
        f"window's mean |SHAP| (flagged above {date_level['threshold']:.0%}). They are the "
        "same for every asset on a date, so they cannot rank assets by themselves: they act "
        "through interactions, mostly moving the whole day's predictions, i.e. the model fits "
        "the market's daily level, which a long-short book does not trade. A per-date "
        "normalised training target (z-score, rank or demean) removes that level."
    )
    if result.config.label_transform == "raw" and st.button(
        "Train again with a per-date z-scored label", key="date_level_zscore"
    ):
        config_form.request({"label_transform": "zscore"})
        st.switch_page("pages/2_Train.py")

imp = explain.importance_table(exp.test, result.model, exp.sample, meta["sample_population"])
order = imp["feature"].to_list()
measure = meta.get("importance_measure", explain.DEFAULT_IMPORTANCE_MEASURE)
shares = explain.importance_shares(imp, measure)
c1, c2 = st.columns([3, 2])
with c1:
    st.altair_chart(charts.importance(shares), width="stretch")
with c2:
    st.subheader("Importance table")
    table = imp.with_columns(
        pl.col("feature").replace_strict(definitions(), default="").alias("definition")
    )
    layout.table(
        table,
        hide_index=True,
        column_config={
            "test_mean_abs_shap": st.column_config.NumberColumn(
                "mean |SHAP| (test)", format="%.2e"
            ),
            "sample_mean_abs_shap": st.column_config.NumberColumn(
                "mean |SHAP| (train sample)", format="%.2e"
            ),
            "sample_se": st.column_config.NumberColumn("se (sample)", format="%.1e"),
            "gain_share": st.column_config.NumberColumn(f"{measure} share", format="%.3f"),
        },
    )

c3, c4 = st.columns(2)
with c3:
    st.altair_chart(charts.beeswarm(explain.beeswarm_frame(exp.test), order), width="stretch")
with c4:
    feature = st.selectbox("Dependence plot feature", order, key="dep_feature")
    st.altair_chart(
        charts.dependence(explain.dependence_frame(exp.test, feature), feature), width="stretch"
    )

st.subheader("Why is this asset in the book today?")
books = result.books
dates = books["date"].unique().sort().to_list()
if not dates:
    st.info(
        "This run holds no positions on any test date (e.g. too few trees to rank assets), "
        "so no asset is in a book to explain."
    )
    st.stop()
picked = st.date_input(
    "Date (the nearest book date on or before it is shown)",
    value=dates[-1],
    min_value=dates[0],
    max_value=dates[-1],
    key=f"explain_day_{run_id}",
)
day = max((d for d in dates if d <= picked), default=dates[0])
k = st.slider("Top contributions per asset", 1, 6, 3, key="explain_k")
for side, col in zip(("long", "short"), st.columns(2), strict=True):
    assets = side_book(books, day, side)["asset"].to_list()
    with col:
        st.markdown(f"**{side.capitalize()} book on {day}** ({len(assets)} assets)")
        top = explain.top_contributions(exp.test, day, assets, k)
        layout.table(
            top,
            hide_index=True,
            column_config={
                "value": st.column_config.NumberColumn("feature value", format="%.4g"),
                "shap": st.column_config.NumberColumn("SHAP", format="%.2e"),
            },
            key=f"why_{side}",
        )
