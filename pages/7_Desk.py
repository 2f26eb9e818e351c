"""Desk: tomorrow's book and orders from the current run, its ledger, live record and drift.

Everything goes through the run service: :meth:`DeskService.book` scores the chosen data with
the lineage's model in force (``record=False`` for the preview; the button appends it to the
ledger), :meth:`DeskService.trade` turns holdings into checked, broker-ready orders (the
pre-trade checks refuse them unless overridden; a corporate-actions file adjusts the bars and
holdings first), and :meth:`DeskService.monitor` gives the live track record, decay and
drift. A retraining runs in
the background (alpha_ui.jobs); its lineage is saved with the child run.
"""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from alpha_core.api import (
    BOOK_ROW_COLUMNS,
    CHECKS,
    FORMATS,
    ORDER_TYPES,
    RETRAIN_EVERY,
    DamagedRunError,
    DeskError,
    LedgerConflict,
    LedgerMoved,
    OrdersError,
    PanelError,
    StorageError,
    TicketSettings,
    closing,
    read_actions,
    read_holdings,
    sent_orders,
    summary_text,
)
from alpha_core.views import ledger_table, prediction_shares
from alpha_ui import cache, charts, jobs, layout, session
from alpha_ui.text import plain

ICON = ":material/storefront:"

layout.page(__file__)
st.title("Desk")
run_id, result = layout.require_run()
service = cache.desk()

data = st.text_input(
    "Data",
    value=session.source()["data"],
    key=f"desk_data_{run_id}",
    help="The bars to score: a path, 'demo', or the demo continued past its end "
    "(demo:2025-06-30; with a planted regime shift: demo:2025-06-30:shift=2025-05-01).",
)
try:
    panel = cache.load_source_panel(data, result.config.metadata)
except (PanelError, ValueError, OSError) as exc:
    st.error(f"The data cannot be loaded: {plain(session.user_message(exc))}")
    st.stop()
last = panel["date"].max()
as_of = st.date_input("Decision date (close)", value=last, key=f"desk_as_of_{run_id}")
try:  # lineage.json and ledger.jsonl are untrusted files: a damaged one is a message
    lineage = service.lineage(run_id)
    service.ledger(run_id)
except ValueError as exc:
    st.error(f"The desk cannot serve this run: {plain(exc)}")
    st.stop()
if len(lineage) > 1:
    st.caption(f"Lineage: {plain(' -> '.join(lineage))} (the newest model in force is used)")

actions_file = st.file_uploader(
    "Corporate actions (CSV: asset, date, ratio or 'delisted'; optional)",
    type=["csv"],
    key="desk_actions",
    help="Splits and delistings the data and holdings do not reflect yet: a split's ratio "
    "divides the earlier prices and multiplies the shares held; a delisting closes the "
    "position.",
)
actions = []
if actions_file is not None:
    try:
        actions = read_actions(actions_file.getvalue(), actions_file.name)
    except OrdersError as exc:
        st.error(f"The corporate actions cannot be used: {plain(exc)}")
        st.stop()
market = service.corporate_actions(panel, actions, as_of).panel if actions else panel

# ----------------------------------------------------------------------------- the book
try:
    book = service.book(run_id, market, as_of=as_of, record=False)
except (DeskError, DamagedRunError) as exc:  # a run of the lineage damaged: the registry's reason
    st.error(f"No book for {plain(as_of)}: {plain(exc)}")
    st.stop()
st.subheader(f"Book for the session after {plain(book.as_of)}")
st.caption(
    f"Model {plain(book.model)} (sha256 {plain(book.model_sha256[:12])}), data fingerprint "
    f"{plain(book.data_fingerprint)}, config {plain(book.config_hash)}; "
    f"{book.scores.height:,} assets scored."
)
st.caption(f"Execution: {plain(book.execution_text)}.")
for label, names in (("Dropped out", book.dropped), ("New", book.new),
                     ("Not scorable", book.unscorable)):  # fmt: skip
    if names:
        st.warning(f"{label}: {plain(', '.join(names))}")
fmt = {
    "prediction": st.column_config.NumberColumn("prediction", format="%.5f"),
    "rank": st.column_config.NumberColumn("rank", format="%.3f"),
    "weight": st.column_config.NumberColumn("weight", format="%.4f"),
}
rows = book.rows.select(BOOK_ROW_COLUMNS).drop("date")
c1, c2 = st.columns(2)
for column, side in ((c1, "long"), (c2, "short")):
    with column:
        part = rows.filter(pl.col("side") == side).drop("side")
        st.markdown(f"**{side.capitalize()} ({plain(part.height)})**")
        layout.table(part, hide_index=True, column_config=fmt, key=f"desk_{side}")
b1, b2, b3 = st.columns([2, 1, 2])
b1.download_button(
    "Download the book (CSV)",
    book.csv(),
    file_name=f"book_{run_id}_{book.as_of}.csv",
    mime="text/csv",
    key="desk_dl_book",
    on_click="ignore",  # a download must not rerun the page (issue 10)
)
force = b2.checkbox("Force", key="desk_force", help="record even if the ledger holds another")
record = b3.button("Record in the ledger", key="desk_record")  # acted on below the orders

# ----------------------------------------------------------------------------- orders
st.subheader("Orders")
o1, o2, o3 = st.columns(3)
capital = o1.number_input(
    "Capital", min_value=1.0, value=1_000_000.0, step=10_000.0, key="desk_capital"
)
lot = o2.number_input("Lot size", min_value=0.0001, value=1.0, key="desk_lot")
min_trade = o3.number_input("Minimum trade (notional)", min_value=0.0, value=0.0)
t1, t2, t3, t4 = st.columns(4)
order_type = t1.selectbox(
    "Order type", list(ORDER_TYPES), key="desk_order_type",
    format_func=lambda k: f"{k}: {ORDER_TYPES[k][1]}",
)  # fmt: skip
offset = t2.number_input("Limit offset (bps, loc)", min_value=0.0, max_value=5000.0,
                         value=TicketSettings().limit_offset_bps, key="desk_offset")  # fmt: skip
account = t3.text_input("Account", key="desk_account")
file_format = t4.selectbox("File format", list(FORMATS), key="desk_format")
overrides = st.multiselect(
    "Override pre-trade checks",
    [c for c in CHECKS if c != "kill_switch"],
    key="desk_overrides",
    help="Let the orders through these checks; the override is shown and recorded with the "
    "book in the ledger. The kill switch cannot be overridden.",
)
upload = st.file_uploader("Current holdings (CSV: asset, quantity or weight)", type=["csv"])
pasted = st.text_area("... or paste them", key="desk_holdings", placeholder="asset,quantity")
raw = upload.getvalue() if upload is not None else pasted.strip().encode()
source = upload.name if upload is not None else "pasted holdings"
trade, refused = None, None
if raw:
    try:
        holdings = read_holdings(raw, source)
        adjusted = service.corporate_actions(panel, actions, as_of, holdings)
        trade = service.trade(
            run_id, book, adjusted.panel, adjusted.holdings, capital, lot, min_trade,
            overrides=overrides, corporate_actions=adjusted.applied,
            ticket_settings=TicketSettings(order_type=order_type, limit_offset_bps=offset,
                                           account=account.strip()),
        )  # fmt: skip
    except (OrdersError, ValueError, pl.exceptions.PolarsError) as exc:
        refused = str(exc)
        st.error(f"Orders cannot be formed: {plain(exc)}")
    else:
        for action in trade.corporate_actions:
            held = f"{action['held_before']} -> {action['held_after']}"
            st.caption(f"Corporate action: {plain(action['describe'])} (held {plain(held)})")
        if trade.overridden_text:
            st.warning(plain(trade.overridden_text))
        sent = sent_orders(trade.orders).drop("ideal_qty")
        layout.table(sent, hide_index=True, key="desk_orders")
        if closing(trade.orders):
            st.caption(f"Closed out: {plain(', '.join(closing(trade.orders)))}")
        st.markdown("**Broker orders**")
        layout.table(trade.tickets, hide_index=True, key="desk_tickets")
        st.caption(plain(summary_text(trade.summary)))
        st.download_button(
            f"Download the orders ({plain(file_format)} CSV)",
            trade.file(file_format),
            file_name=f"orders_{run_id}_{book.as_of}.csv",
            mime="text/csv",
            key="desk_dl_orders",
            on_click="ignore",
        )
if record:
    if refused is not None:
        st.error("Nothing recorded: the orders were refused.")
    else:
        try:
            recorded = service.record(
                run_id, book, force=force, pre_trade=trade.pre_trade() if trade else None
            )
            st.success(f"Ledger: {plain(recorded.status)} ({plain(recorded.as_of)})")
        except (DeskError, DamagedRunError, LedgerConflict, LedgerMoved, StorageError) as exc:
            st.error(plain(exc))


# ----------------------------------------------------------------------------- monitoring
@st.cache_resource(max_entries=8, show_spinner="Monitoring ...")
def _monitor(root: str, run: str, source: str, stamp: int):
    return service.monitor(run, panel)


ledger_file = service.ledger_path(run_id)
stamp = ledger_file.stat().st_mtime_ns if ledger_file.exists() else 0
report = _monitor(str(service.root), run_id, data, stamp)
st.subheader("Live track record")
st.caption(
    "Paper record: the ledger's books earning the run's label returns (the band and the decay "
    "table). The record from fills and positions follows it when fills are recorded "
    "(`alpha fills`)."
)
if report.band.height:
    band = report.band.to_pandas()
    area = alt.Chart(band).mark_area(opacity=0.25).encode(
        x=charts.date_x(), y=alt.Y("lower:Q", title="Cumulative net return"),
        y2="upper:Q",
    )  # fmt: skip
    line = (
        alt.Chart(band)
        .mark_line(color="#1565c0")
        .encode(x=charts.date_x(), y="live:Q", tooltip=[charts.date_tip(), "live:Q"])
    )
    st.altair_chart(
        (area + line).properties(title="Live vs the backtest's interval", height=260),
        width="stretch",
    )
else:
    st.info("No realised live day yet: record books in the ledger as new bars arrive.")
layout.table(report.decay, hide_index=True, key="desk_decay")
if report.positions:
    live = report.positions
    st.markdown(
        f"**Record from fills and positions**: {plain(live['n_fills'])} fills, P&L net of the "
        f"traded costs {live['pnl_net']:,.2f} (costs {live['costs']:,.2f}); gross "
        f"{live['gross']:,.2f}, net {live['net']:,.2f}, cash {live['cash']:,.2f}"
    )
    layout.table(pl.DataFrame(live["daily"]), hide_index=True, key="desk_fills_daily")
if report.reasons:
    st.warning(f"Retrain recommended: {plain('; '.join(report.reasons))}")
else:
    st.caption("No retraining recommended.")

st.subheader("Drift")
st.caption(
    f"The model inputs of {plain(report.data_end)} against each day of the model's training "
    "window: a statistic (PSI, median, spread) past its threshold, calibrated on those days "
    f"(false alarms about {plain(report.settings.drift.alpha)} of normal days), alerts."
)
layout.table(report.features, hide_index=True, key="desk_drift")
if report.features.height:
    bars = alt.Chart(report.features.to_pandas()).mark_bar().encode(
        x=alt.X("psi:Q", title="PSI"), y=alt.Y("feature:N", title=None, sort="-x"),
        color=alt.Color("status:N", title="Status"),
    )  # fmt: skip
    ticks = alt.Chart(report.features.to_pandas()).mark_tick(color="#c62828", thickness=2)
    st.altair_chart(
        bars + ticks.encode(x="psi_threshold:Q", y=alt.Y("feature:N", sort="-x")),
        width="stretch",
    )
preds = report.predictions
if preds["recent_shares"]:
    shares = prediction_shares(preds)
    st.altair_chart(
        alt.Chart(shares.to_pandas(), title=f"Predictions then vs now (PSI {preds['psi']:.3f})")
        .mark_bar()
        .encode(x=alt.X("bin:O", title="Decile of the backtest's predictions"),
                xOffset="sample:N", y=alt.Y("share:Q", title="Share"), color="sample:N"),
        width="stretch",
    )  # fmt: skip

st.subheader("Ledger")
entries = service.ledger(run_id)
layout.table(ledger_table(entries.entries), hide_index=True, key="desk_ledger")
if entries.skipped:
    st.warning(plain(entries.skipped_text()))

# ----------------------------------------------------------------------------- retraining
st.subheader("Retrain")
pending = st.session_state.get("desk_retrain")
if pending:
    job = jobs.get(pending["job_id"])
    if job is not None and job.status == "done" and job.run_id:
        st.session_state["desk_retrain"] = None
        st.success(f"Retrained: run {plain(job.run_id)} now serves the lineage.")
    elif job is not None and job.active:
        st.info(f"Retraining in the background: {plain(job.message)} ({job.fraction:.0%})")
    elif job is not None:
        st.error(f"Retraining failed: {plain(job.error)}")
        st.session_state["desk_retrain"] = None
every = st.selectbox("When", ["when new data", *RETRAIN_EVERY], key="desk_every")
if st.button("Retrain on the newest data", key="desk_retrain_button", disabled=bool(pending)):
    try:
        plan = service.retrain_plan(run_id, panel, data=data,
                                    every=None if every == "when new data" else every)  # fmt: skip
    except (DeskError, DamagedRunError, ValueError) as exc:  # refused before any training
        st.error(f"Retraining refused: {plain(exc)}")
    else:
        if plan is None:
            st.info("No retraining due: no data after the newest model's test window.")
        else:
            job = jobs.start(plan.config, plan.panel, service.root, session.owner(),
                             data_label=data, explain_after=False, lineage=plan)  # fmt: skip
            st.session_state["desk_retrain"] = {"job_id": job.id}
            st.info(f"Retraining started (trained to {plain(plan.config.train_end)}, in "
                    f"force from {plain(plan.config.test_start)}).")  # fmt: skip
