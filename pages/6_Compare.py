"""Compare: metrics side by side, overlaid long-short equity, config diff; rename and delete.

Damaged run folders (listed apart by the registry) are shown with their problem and can be
deleted here.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from alpha_core import views
from alpha_core.api import is_run_id
from alpha_core.views import METRICS, report
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
    layout.table(
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


COMPARE_KEYS = ["sharpe_net", "sharpe", "sharpe_net_ci_low", "sharpe_net_ci_high", "psr_net",
                "dsr_net", "dsr", "n_trials", "total_return_net", "total_return", "cagr_net",
                "max_drawdown_net", "max_drawdown", "annual_volatility_net", "turnover_mean",
                "cost_annual", "rank_ic_mean", "quantile_spread", "var_95_net",
                "cvar_95_net"]  # fmt: skip
"""The sortable table's numbers: net of costs first, gross (labelled so) beside."""


def _sharpe_test(dailies: dict[str, pl.DataFrame], names: dict[str, str]) -> None:
    """The Jobson-Korkie-Memmel test of two runs' Sharpe ratios on their common days."""
    st.subheader("Is the Sharpe difference real?")
    ids = list(dailies)
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox("Run A", ids, index=0, format_func=lambda r: names[r], key="sr_a")
    b = c2.selectbox("Run B", ids, index=1, format_func=lambda r: names[r], key="sr_b")
    kind = c3.radio("Returns", ["net of costs", "gross"], horizontal=True, key="sr_kind")
    if a == b:
        st.caption("Pick two different runs.")
        return
    column = "long_short_net" if kind == "net of costs" else "long_short"
    if any(column not in dailies[r].columns for r in (a, b)):
        column = "long_short"
    periods = int(by_id[a].metrics.get("periods_per_year") or 252)
    test = views.sharpe_difference(dailies[a], dailies[b], column, periods)
    layout.table(
        pl.DataFrame(
            {
                "figure": [
                    "common days",
                    "Sharpe A (annualised)",
                    "Sharpe B (annualised)",
                    "difference (annualised)",
                    "correlation of daily returns",
                    "z statistic",
                    "p-value (two-sided)",
                ],  # fmt: skip
                "value": [
                    test["n"],
                    test["sharpe_a_annual"],
                    test["sharpe_b_annual"],
                    test["difference_annual"],
                    test["rho"],
                    test["z"],
                    test["p_value"],
                ],  # fmt: skip
            }
        ),
        hide_index=True,
        key="sr_test",
        column_config={"value": st.column_config.NumberColumn(format="%.4f")},
    )
    st.caption(
        "Jobson-Korkie test with Memmel's correction: the difference of the daily Sharpe "
        "ratios over its delta-method standard error on the days both runs traded. A "
        "p-value above 0.05 means the data cannot tell the two Sharpe ratios apart."
    )


if st.session_state.get("compare_flash"):
    st.success(plain(st.session_state.pop("compare_flash")))
if not infos:
    st.info("No run yet: train one on the Train page.")
    _damaged_section()
    st.stop()
by_id = {i.run_id: i for i in infos}
service = cache.service()
notes = {i.run_id: service.notes(i.run_id) for i in infos}


def _label(run_id: str) -> str:
    tags = notes[run_id]["tags"]
    return f"{by_id[run_id].name} ({run_id[:15]})" + (f" [{', '.join(tags)}]" if tags else "")


labels = {i.run_id: _label(i.run_id) for i in infos}
all_tags = sorted({t for n in notes.values() for t in n["tags"]})
wanted = st.multiselect("Only runs tagged", all_tags, key="cmp_tags") if all_tags else []
choices = [r for r in by_id if not wanted or set(wanted) & set(notes[r]["tags"])]
default = choices[:2]
picked = st.multiselect(
    "Runs", choices, default=default, format_func=lambda r: labels[r], key="cmp_runs"
)
picked = [r for r in picked if r in by_id]
if len(picked) >= 1:
    names = {}
    for r in picked:  # display names must be unique column headers
        n = by_id[r].name
        names[r] = n if n not in names.values() else f"{n} ({r[:15]})"
    st.subheader("Headline")
    st.caption(
        "The five figures read first: net of costs where a run models costs (gross beside), "
        "gross where it models none; the DSR counts the runs on the same data and target."
    )
    layout.table(
        views.headline_table({names[r]: by_id[r].metrics for r in picked}),
        hide_index=True,
        key="cmp_headline",
    )
    st.subheader("Metrics")
    st.caption("One row per run: click a column header to sort by that metric.")
    keys = [k for k in COMPARE_KEYS if any(k in by_id[r].metrics for r in picked)]
    layout.table(
        views.metrics_by_run({names[r]: by_id[r].metrics for r in picked}, keys),
        hide_index=True,
        key="cmp_sortable",
        column_config={
            k: st.column_config.NumberColumn(
                f"{METRICS[k].title()} (gross)" if report.net_key(k) else METRICS[k].title(),
                format="%d" if k == "n_trials" else "%.4f",
            )
            for k in keys
            if k in METRICS
        },  # fmt: skip
    )
    with st.expander("Every metric, side by side"):
        layout.table(
            report.metrics_comparison({names[r]: by_id[r].metrics for r in picked}),
            hide_index=True,
        )
    dailies = {}
    for r in picked:
        try:
            dailies[r] = cache.load(r).daily
        except cache.RUN_ERRORS as exc:  # a damaged run: the others are still compared
            st.warning(f"No equity curve for {plain(names[r])}: {plain(exc)}")
    sources: dict[str, list[str]] = {}
    for r in dailies:
        sources.setdefault(views.data_source(by_id[r].config), []).append(r)
    if len(sources) > 1:
        st.warning(
            f"These runs were trained on {len(sources):d} different datasets: each dataset's "
            "runs are drawn on their own chart, never on one axis."
        )
    only_common = st.toggle(
        "Align the runs on their common trading days (compounded from 1 on the first)",
        value=True,
        key="cmp_common",
    )
    for source, runs in sources.items():
        group = {names[r]: dailies[r] for r in runs}
        frame = views.aligned_equity(group, only_common)
        n_days = len(views.common_days(group))
        if only_common and n_days == 0:
            st.info(f"{plain(source)}: these runs share no trading day.")
            continue
        title = f"Data: {source}" + (f" - {n_days:,} common days" if only_common else "")
        st.altair_chart(charts.compare_equity(frame, title), width="stretch")
    if len(dailies) >= 2:
        _sharpe_test(dailies, names)
    st.subheader("Config differences")
    diff = views.config_diff({names[r]: by_id[r].config for r in picked})
    if diff.height:
        layout.table(diff, hide_index=True)
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
    note = st.text_area("Note", value=notes[target]["note"], key=f"note_{target}")
    tags = st.text_input(
        "Tags (comma-separated)", value=", ".join(notes[target]["tags"]), key=f"tags_{target}"
    )
    if st.button("Save note and tags", key="notes_btn"):
        try:
            service.set_notes(target, note, tags.split(","))
        except (ValueError, OSError) as exc:
            st.error(plain(exc))
        else:
            st.session_state["compare_flash"] = "Note and tags saved with the run."
            st.rerun()
with c2:
    confirm = st.checkbox(
        f"Yes, delete {plain(labels[target])} permanently", key=f"confirm_{target}"
    )
    if st.button("Delete run", type="primary", disabled=not confirm, key="delete_btn"):
        _delete(target)
_damaged_section()
