"""Metrics as text and tables: the CLI's Performance Summary and the app's metric tables.

Nothing here computes a metric (see :mod:`alpha_core.evaluation.metrics`); every row comes from the
registry :data:`alpha_core.evaluation.metrics.METRICS` (label, format, seed claim, benchmark,
section), so
a metric registered there appears in the summary (when marked ``summary``), in a run's
metrics table and in the comparison of runs without a change here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from alpha_core.evaluation.metrics import METRICS, Metric

FORMATS = {"pct": "{:.2%}", "pct4": "{:.4%}", "num": "{:.2f}", "num4": "{:.4f}", "int": "{:,}"}


def format_value(value: Any, kind: str) -> str:
    """One metric value as shown in the CLI and the app ("n/a" for missing / non-finite)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "int":
        value = int(value)
    return FORMATS[kind].format(value) if kind in FORMATS else str(value)


def format_metric(metric: Metric, metrics: Mapping[str, Any]) -> str:
    """The registered metric's value in ``metrics``, formatted."""
    return format_value(metric.value(metrics), metric.kind)


def format_claim(metric: Metric) -> str:
    """The seed document's claim for this metric ("" when it makes none)."""
    if metric.claim is None or isinstance(metric.claim, str):
        return metric.claim or ""
    return format_value(metric.claim, metric.kind)


def metric_rows(metrics: Mapping[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """``(key, label, format)`` of every registered metric in display order; labels are
    filled from ``metrics`` (see :meth:`Metric.title`)."""
    return [(m.key, m.title(metrics), m.kind) for m in METRICS.values()]


# ------------------------------------------------------------------------------ app tables
def metrics_table(metrics: dict[str, Any]) -> pl.DataFrame:
    """``metric, value`` (formatted text) for every registered metric, then any unknown keys."""
    rows = [(m.title(metrics), format_metric(m, metrics)) for m in METRICS.values()]
    rows += [(key, format_value(v, "num4" if isinstance(v, float) else "text"))
             for key, v in sorted(metrics.items()) if key not in METRICS]  # fmt: skip
    return pl.DataFrame(rows, schema=["metric", "value"], orient="row")


def metrics_comparison(named: dict[str, dict[str, Any]]) -> pl.DataFrame:
    """``metric`` plus one formatted column per run name (insertion order).

    A label placeholder (e.g. the DSR's trial count) is filled when every run agrees on it.
    """
    runs = list(named.values())
    shared = {k: v for k, v in runs[0].items() if all(r.get(k) == v for r in runs)} if runs else {}
    data: dict[str, list[str]] = {"metric": [m.title(shared) for m in METRICS.values()]}
    for name, metrics in named.items():
        data[name] = [format_metric(m, metrics) for m in METRICS.values()]
    return pl.DataFrame(data)


# ------------------------------------------------------------------------------ CLI summary
HEADER = ("Metric", "Measured", "Seed claim", "Equal-weight benchmark")


def summary_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The summary's rows: a section title, then its metrics marked ``summary`` (indented)."""
    rows: list[tuple[str, str, str, str]] = []
    group = None
    for m in METRICS.values():
        if not m.summary:
            continue
        if m.group != group:
            group = m.group
            rows.append((group, "", "", ""))
        bench = format_value(metrics.get(m.benchmark), m.kind) if m.benchmark else ""
        rows.append((f"  {m.title(metrics)}", format_metric(m, metrics), format_claim(m), bench))
    return rows


def performance_summary(metrics: dict[str, Any], data_label: str = "") -> str:
    """The founding document's Performance Summary, with our measured values beside its claims."""
    rows = summary_rows(metrics)
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(4)]
    lines = [
        f"Performance Summary{f' ({data_label})' if data_label else ''}",
        "| " + " | ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join(lines + _notes(metrics))


def _notes(metrics: Mapping[str, Any]) -> list[str]:
    """The lines under the table: test window, cost convention, what n/a and limits mean."""
    folds = metrics.get("n_folds") or 1
    notes = [
        f"Test {metrics.get('test_start')} .. {metrics.get('test_end')}"
        f"{f' ({folds} walk-forward folds)' if folds > 1 else ''}; gross rows are before "
        "costs, after-costs rows net of trading and borrow costs; "
        "seed figures are claims on other data."
    ]
    never = [
        name
        for name, suffix in (("gross", ""), ("net", "_net"))
        if metrics.get(f"min_trl{suffix}") is None
        and metrics.get(f"sharpe{suffix}") is not None
        and metrics[f"sharpe{suffix}"] <= 0
    ]
    if never:
        notes.append(
            f"Minimum track record ({' and '.join(never)}): never, the Sharpe ratio is <= 0."
        )
    if metrics.get("limit_infeasible_days"):
        notes.append(
            f"Limits could not hold the target gross on {metrics['limit_infeasible_days']} "
            "day(s): those sides are under-invested."
        )
    return notes + data_notes(metrics)


def data_notes(metrics: Mapping[str, Any]) -> list[str]:
    """What the run's data contract did: its calendar, and every loss (bars dropped, test
    bars and dates without a prediction, features left out, days a side held nothing)."""
    notes = []
    if metrics.get("calendar"):
        notes.append(f"Calendar: {metrics['calendar']}, inferred from the data.")
    if metrics.get("bad_bars_dropped"):
        notes.append(f"Dropped {metrics['bad_bars_dropped']:,} bad bar(s) (on_bad_bars = drop).")
    rows, dates = metrics.get("test_rows_lost") or 0, metrics.get("test_dates_lost") or 0
    if rows or dates:
        notes.append(
            f"Test window: {rows:,} bar(s) and {dates:,} date(s) got no prediction "
            "(dropped bars, feature warm-up or missing values)."
        )
    if metrics.get("features_dropped") not in (None, "", "none"):
        notes.append(f"Features left out: {metrics['features_dropped']}.")
    sides = [
        f"{metrics[key]} day(s) {what}"
        for key, what in (
            ("days_without_long", "without a long position"),
            ("days_without_short", "without a short position"),
            ("days_without_positions", "without any position (left out of the statistics)"),
        )
        if metrics.get(key)
    ]
    if sides:
        notes.append("Books: " + "; ".join(sides) + ".")
    return notes
