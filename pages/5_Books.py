"""Books: the daily long and short books, gross and net of costs; percentile sliders rebook
without retraining (with the run's turnover control and costs).

The download buttons do not rerun the page when clicked (``on_click="ignore"``): a rerun
replaces the page's files, and a download still in flight when it finishes is cancelled
(seen on a loaded CI machine).
"""

from __future__ import annotations

import streamlit as st

from alpha_core import views
from alpha_core.config import RunConfig, setting_for
from alpha_core.views import METRICS, TURNOVER_FIELDS, books_csv, format_metric
from alpha_ui import cache, charts, config_form, layout
from alpha_ui.text import plain

ICON = ":material/menu_book:"

layout.page(__file__)
st.title("Daily books")
run_id, result = layout.require_run()


@st.cache_data(max_entries=4, show_spinner=False)
def _sectors(data: str, metadata: str | None):
    pnl = cache.run_panel(RunConfig(data=data, metadata=metadata))
    return None if pnl is None else views.asset_sectors(pnl)


percentiles = {}
optimised = result.config.construction != "rank"
for column, side in zip(st.columns(2), ("long", "short"), strict=True):
    if optimised:  # the optimiser's books: the percentiles of rank books do not apply
        break
    name = f"{side}_pct"
    with column:  # the same control as the Train form's, drawn from the setting's declaration
        percentiles[name] = config_form.control(
            setting_for(RunConfig, name), getattr(result.config, name), f"books_{side}_{run_id}"
        )
long_pct = percentiles.get("long_pct", result.config.long_pct)
short_pct = percentiles.get("short_pct", result.config.short_pct)
rebooked = cache.rebook(run_id, **percentiles)
books, daily, metrics = rebooked.books, rebooked.daily, rebooked.metrics
turnover_settings = ", ".join(
    f"{setting_for(RunConfig, f).spec.label.lower()} {getattr(result.config, f)}"
    for f in TURNOVER_FIELDS
    if getattr(result.config, f) != getattr(RunConfig(), f)
)
shown = (
    "the optimiser's books as backtested (construction optimizer: each day solved from the "
    "book held on the risk model; percentiles do not apply)"
    if optimised
    else f"trained with long {result.config.long_pct:.0%} / short "
    f"{result.config.short_pct:.0%}; shown: long {long_pct:.0%} / short {short_pct:.0%} "
    "(recomputed from the stored predictions, no retraining)"
)
st.caption(
    f"Run `{run_id}` {plain(shown)}. Costs: "
    f"{result.config.cost_bps:g} bps per unit turnover, borrow {result.config.borrow_bps:g} "
    f"bps a year; turnover control: {plain(turnover_settings or 'none (daily full rebalance)')}."
)

CARDS = {  # beside the headline: metrics key -> short card label (format from the registry)
    "turnover_mean": "Turnover a day",
    "cost_annual": "Cost drag a year",
    "avg_long_positions": "Avg long positions",
    "avg_short_positions": "Avg short positions",
}
layout.headline(metrics)  # net first (gross beside), as on Home, Performance and the CLI
for col, (key, label) in zip(st.columns(len(CARDS)), CARDS.items(), strict=True):
    col.metric(label, format_metric(METRICS[key], metrics))
if books.height == 0:
    st.info(
        "These books hold no position on any date (e.g. a model whose predictions are all "
        "tied, such as a single tree, or percentiles that select no name): nothing to show. "
        "Widen the percentiles above or train the run again with more trees."
    )
    st.stop()
st.altair_chart(  # one chart: gross sides, long-short gross and net of costs, benchmark
    charts.equity(
        views.equity_frame(daily, views.series_for(daily)),
        title="P&L at these percentiles, gross and net of costs (growth of 1)",
    ),
    width="stretch",
)

dates = views.book_dates(books)
picked = st.date_input(
    "Date (the nearest book date on or before it is shown)",
    value=dates[-1], min_value=dates[0], max_value=dates[-1], key=f"books_day_{run_id}",
    help="The book decided at this date's close (the last date's book is for the next session).",
)  # fmt: skip
day = max((d for d in dates if d <= picked), default=dates[0])
tables = views.book_for_date(books, day, _sectors(result.config.data, result.config.metadata))
fmt = {
    "prediction": st.column_config.NumberColumn("prediction", format="%.5f"),
    "rank": st.column_config.NumberColumn("rank", format="%.3f"),
    "weight": st.column_config.NumberColumn("weight", format="%.4f"),
}
c1, c2 = st.columns(2)
with c1:
    st.subheader(f"Long book ({tables['long'].height})")
    layout.table(tables["long"], hide_index=True, column_config=fmt, key="long_table")
with c2:
    st.subheader(f"Short book ({tables['short'].height})")
    layout.table(tables["short"], hide_index=True, column_config=fmt, key="short_table")

d1, d2 = st.columns(2)
tag = f"L{round(long_pct * 100)}_S{round(short_pct * 100)}"
# The day's CSV is a few dozen rows; every day's is built once per percentile setting (cached).
d1.download_button(
    f"Download the {day} book (CSV)",
    books_csv(books, day),
    file_name=f"book_{run_id}_{day}_{tag}.csv",
    mime="text/csv",
    key="dl_day",
    on_click="ignore",  # no rerun: the file served is the one this run made (see below)
)
d2.download_button(
    "Download every daily book in the test window (CSV)",
    cache.all_books_csv(run_id, **percentiles),
    file_name=f"books_{run_id}_{tag}.csv",
    mime="text/csv",
    key="dl_all",
    on_click="ignore",
)
