"""Books: the daily long and short books; percentile sliders rebook without retraining.

The download buttons do not rerun the page when clicked (``on_click="ignore"``): a rerun
replaces the page's files, and a download still in flight when it finishes is cancelled
(seen on a loaded CI machine).
"""

from __future__ import annotations

import streamlit as st

from alpha_core import views
from alpha_core.books import books_csv
from alpha_core.config import RunConfig, setting_for
from alpha_core.metrics import METRICS
from alpha_core.report import format_metric
from alpha_ui import cache, charts, config_form, layout

ICON = ":material/menu_book:"

layout.page(__file__)
st.title("Daily books")
run_id, result = layout.require_run()


@st.cache_data(max_entries=4, show_spinner=False)
def _sectors(data: str, metadata: str | None):
    pnl = cache.run_panel(RunConfig(data=data, metadata=metadata))
    return None if pnl is None else views.asset_sectors(pnl)


percentiles = {}
for column, side in zip(st.columns(2), ("long", "short"), strict=True):
    name = f"{side}_pct"
    with column:  # the same control as the Train form's, drawn from the setting's declaration
        percentiles[name] = config_form.control(
            setting_for(RunConfig, name), getattr(result.config, name), f"books_{side}_{run_id}"
        )
long_pct, short_pct = percentiles["long_pct"], percentiles["short_pct"]
rebooked = cache.rebook(run_id, **percentiles)
books, daily, metrics = rebooked.books, rebooked.daily, rebooked.metrics
st.caption(
    f"Run `{run_id}` trained with long {result.config.long_pct:.0%} / short "
    f"{result.config.short_pct:.0%}; shown: long {long_pct:.0%} / short {short_pct:.0%} "
    "(recomputed from the stored predictions, no retraining)."
)

CARDS = {  # metrics key -> short card label; the format comes from the metrics registry
    "sharpe": "Sharpe",
    "total_return": "Total return",
    "max_drawdown": "Max drawdown",
    "avg_long_positions": "Avg long positions",
    "avg_short_positions": "Avg short positions",
}
for col, (key, label) in zip(st.columns(len(CARDS)), CARDS.items(), strict=True):
    col.metric(label, format_metric(METRICS[key], metrics))
st.altair_chart(
    charts.equity(views.equity_frame(daily), title="P&L at these percentiles (growth of 1)"),
    width="stretch",
)

dates = views.book_dates(books)
day = st.select_slider(
    "Date", options=dates, value=dates[-1], key=f"books_day_{run_id}",
    help="The book decided at this date's close (the last date's book is for the next session).",
)  # fmt: skip
tables = views.book_for_date(books, day, _sectors(result.config.data, result.config.metadata))
fmt = {
    "prediction": st.column_config.NumberColumn("prediction", format="%.5f"),
    "rank": st.column_config.NumberColumn("rank", format="%.3f"),
    "weight": st.column_config.NumberColumn("weight", format="%.4f"),
}
c1, c2 = st.columns(2)
with c1:
    st.subheader(f"Long book ({tables['long'].height})")
    st.dataframe(tables["long"], hide_index=True, column_config=fmt, key="long_table")
with c2:
    st.subheader(f"Short book ({tables['short'].height})")
    st.dataframe(tables["short"], hide_index=True, column_config=fmt, key="short_table")

d1, d2 = st.columns(2)
tag = f"L{round(long_pct * 100)}_S{round(short_pct * 100)}"
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
    books_csv(books),
    file_name=f"books_{run_id}_{tag}.csv",
    mime="text/csv",
    key="dl_all",
    on_click="ignore",
)
