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
from dataclasses import dataclass
from typing import Any

import polars as pl

from alpha_core.evaluation.metrics import (
    ALIASES,
    METRICS,
    NET_GROUP,
    SECTIONS,
    Metric,
    loses_before_costs,
)

FORMATS = {"pct": "{:.2%}", "pct4": "{:.4%}", "num": "{:.2f}", "num4": "{:.4f}", "int": "{:,}"}


def format_value(value: Any, kind: str) -> str:
    """One metric value as shown in the CLI and the app ("n/a" for missing / non-finite)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "int":
        value = int(value)
    return FORMATS[kind].format(value) if kind in FORMATS else str(value)


def format_metric(metric: Metric, metrics: Mapping[str, Any]) -> str:
    """The registered metric's value in ``metrics``, formatted (or its words, when the number
    would mislead: see :attr:`Metric.says`)."""
    words = metric.says(metrics) if metric.says is not None else None
    return words if words is not None else format_value(metric.value(metrics), metric.kind)


def format_claim(metric: Metric) -> str:
    """The seed document's claim for this metric ("" when it makes none)."""
    if metric.claim is None or isinstance(metric.claim, str):
        return metric.claim or ""
    return format_value(metric.claim, metric.kind)


def metric_rows(metrics: Mapping[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """``(key, label, format)`` of every registered metric in display order; labels are
    filled from ``metrics`` (see :meth:`Metric.title`)."""
    return [(m.key, m.title(metrics), m.kind) for m in METRICS.values()]


# ------------------------------------------------------------------------------ the headline
HEADLINE = ("sharpe", "cagr", "max_drawdown", "dsr", "break_even_bps")
"""The five figures a researcher reads first, by gross key (net first where costs are
modelled): every surface's headline is :func:`headline` of these."""

NO_COSTS = "no costs modelled: gross figures"
WITH_COSTS = "net of costs; gross beside"
_HEADLINE_LABELS = {  # gross key -> (label with costs, label without)
    "sharpe": ("Net Sharpe", "Sharpe"),
    "cagr": ("Net annual return", "Annual return"),
    "max_drawdown": ("Net max drawdown", "Max drawdown"),
    "dsr": ("Net DSR", "DSR"),
    "break_even_bps": ("Break-even cost", "Break-even cost"),
}


def net_key(key: str) -> str | None:
    """The registered after-costs twin of a gross metric (``sharpe_ci_low`` ->
    ``sharpe_net_ci_low``, ``max_drawdown`` -> ``max_drawdown_net``), or None."""
    for candidate in (f"{key}_net", key.replace("sharpe_", "sharpe_net_", 1)):
        if candidate != key and candidate in METRICS:
            return candidate
    return None


def has_costs(metrics: Mapping[str, Any]) -> bool:
    """Whether the run models costs: any cost charged (trading, impact or borrow), or net
    figures that differ from the gross ones."""
    if any((metrics.get(k) or 0) > 0 for k in ("cost_annual", "trade_cost_annual",
                                                  "borrow_cost_annual")):  # fmt: skip
        return True
    gross, net = metrics.get("sharpe"), metrics.get("sharpe_net")
    return gross is not None and net is not None and gross != net


@dataclass(frozen=True)
class Figure:
    """One headline figure: ``value`` is net of costs when the run models costs, and
    ``gross`` the same figure before costs beside it ("" without costs)."""

    key: str
    """The metrics key of ``value``."""
    label: str
    value: str
    unit: str
    gross: str = ""
    note: str = ""
    """What qualifies it: the Sharpe's 95% interval, the DSR's trial count."""

    @property
    def display(self) -> str:
        """The value as a tile shows it: with its unit when the number alone would not say
        it (bps)."""
        return (
            f"{self.value} {self.unit}"
            if self.unit == "bps" and self.value[-1:].isdigit()
            else self.value
        )

    @property
    def beside(self) -> str:
        """What is said beside the value: ``gross ...`` and the note."""
        return "; ".join(
            [*([f"gross {self.gross}"] if self.gross else []), *([self.note] if self.note else [])]
        )

    def text(self) -> str:
        """``label value unit (gross ...; note)`` on one line."""
        unit = self.unit.removeprefix("%").strip() if self.value.endswith("%") else self.unit
        unit = f" {unit}" if unit and self.value[-1:].isdigit() else ""
        extra = [f"gross {self.gross}"] if self.gross else []
        extra += [self.note] if self.note else []
        return f"{self.label} {self.value}{unit}" + (f" ({'; '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Headline:
    """The figures a surface shows first, and on what basis (net, or gross without costs)."""

    costs: bool
    basis: str
    """:data:`WITH_COSTS` or :data:`NO_COSTS`."""
    figures: tuple[Figure, ...]

    def lines(self) -> list[str]:
        """``Headline (basis)`` then one line per figure: the CLI's and the report's text."""
        return [f"Headline ({self.basis})", *(f"  {f.text()}" for f in self.figures)]

    def figure(self, key: str) -> Figure:
        """The figure of a gross key of :data:`HEADLINE`."""
        return next(f for f in self.figures if f.key in (key, net_key(key)))


def _trials(n: Any) -> str:
    return "trials not recorded" if n is None else f"{n} trial{'' if n == 1 else 's'}"


def trials_note(metrics: Mapping[str, Any]) -> str:
    """The DSR's trial count as said beside it: the runs on the same data and target (the
    run family) and the candidates its validation window compared."""
    n = metrics.get("n_trials")
    return "trial count not recorded" if n is None else f"{_trials(n)} on this data and target"


def headline(metrics: Mapping[str, Any], costs: bool | None = None) -> Headline:
    """The run's headline: :data:`HEADLINE`'s figures, net of costs first (gross beside)
    when the run models costs (``costs``; default :func:`has_costs`), gross figures said to
    be so otherwise. A break-even cost is "loses before costs" for books that lose before
    costs (never a negative number); the DSR carries its trial count."""
    costs = has_costs(metrics) if costs is None else costs
    figures = []
    for key in HEADLINE:
        gross_metric = METRICS[key]
        twin = net_key(key) if costs else None
        shown = METRICS[twin] if twin else gross_metric
        label = _HEADLINE_LABELS[key][0 if costs else 1]
        note = ""
        if key == "sharpe":
            lo, hi = (f"{shown.key}_ci_low", f"{shown.key}_ci_high")
            note = (f"95% interval [{format_value(metrics.get(lo), 'num')}, "
                    f"{format_value(metrics.get(hi), 'num')}]")  # fmt: skip
        elif key == "dsr":
            label = f"{label} ({_trials(metrics.get('n_trials'))})"
            note = trials_note(metrics)
        elif key == "break_even_bps":
            note = "cost per unit turnover at which the net Sharpe is 0"
            if loses_before_costs(metrics):
                sharpe = metrics.get("sharpe")
                note = (
                    "the gross Sharpe is not above 0: no cost level makes it pay"
                    if isinstance(sharpe, int | float) and sharpe <= 0
                    else "borrow fees alone take the gross return: no trading cost makes it pay"
                )
        figures.append(
            Figure(
                key=shown.key,
                label=label,
                value=format_metric(shown, metrics),
                unit="bps" if key == "break_even_bps" else gross_metric.units,
                gross=format_metric(gross_metric, metrics) if twin else "",
                note=note,
            )
        )
    return Headline(costs, WITH_COSTS if costs else NO_COSTS, tuple(figures))


_SHORT = {"sharpe": "Sharpe", "cagr": "Annual return", "max_drawdown": "Max drawdown",
          "dsr": "DSR", "break_even_bps": "Break-even (bps)"}  # fmt: skip


def headline_table(named: Mapping[str, Mapping[str, Any]]) -> pl.DataFrame:
    """The :func:`headline` of several runs side by side: ``run``, ``basis`` (net of costs,
    or no costs modelled), then each figure (net where the run models costs) followed by
    its ``gross`` twin, and the DSR's ``trials`` (formatted text, one row per run)."""
    data: dict[str, list[str]] = {"run": list(named), "basis": []}
    for key in HEADLINE:
        data[_SHORT[key]] = []
        if key != "break_even_bps":
            data[f"{_SHORT[key]} gross"] = []
        if key == "dsr":
            data["DSR trials"] = []
    for metrics in named.values():
        top = headline(metrics)
        data["basis"].append(top.basis)
        for key in HEADLINE:
            figure = top.figure(key)
            data[_SHORT[key]].append(figure.value)
            if key != "break_even_bps":
                data[f"{_SHORT[key]} gross"].append(figure.gross or "-")
            if key == "dsr":
                data["DSR trials"].append(format_value(metrics.get("n_trials"), "int"))
    return pl.DataFrame(data)


# ------------------------------------------------------------------------------ sections
READ_FIRST = "Read first"
SECTION_COLUMNS = ("section", "metric", "value", "gross", "unit")


def metric_sections(
    metrics: Mapping[str, Any], costs: bool | None = None
) -> list[tuple[str, list[tuple[str, str, str, str, str]]]]:
    """The run's metrics in sections: ``(section, rows)``, each row ``(key, label, value,
    gross, unit)``.

    :data:`READ_FIRST` (the :func:`headline`'s five figures) comes first, then the
    registry's sections (:data:`SECTIONS`, then any other a metric names) in registry
    order. Each metric appears once: an after-costs twin is the ``value`` of its gross
    metric's row (``gross`` beside it) when the run models costs, aliases are left out, and
    so are metrics the run did not compute.
    """
    costs = has_costs(metrics) if costs is None else costs
    top = headline(metrics, costs)
    rows = [(f.key, f.label, f.value, f.gross, f.unit) for f in top.figures]
    out = [(READ_FIRST, rows)]
    seen = {k for key in HEADLINE for k in (key, net_key(key)) if k}
    twins = {net_key(k): k for k in METRICS if net_key(k)}
    by_section: dict[str, list[tuple[str, str, str, str, str]]] = {}
    for m in METRICS.values():
        if m.key in seen or m.key in ALIASES or m.key in twins:
            continue
        twin = METRICS.get(net_key(m.key) or "")
        present = m.derive is not None or m.key in metrics
        if not present and not (twin and twin.key in metrics):
            continue
        if twin is not None and costs:
            row = (twin.key, m.title(metrics), format_metric(twin, metrics),
                   format_metric(m, metrics), m.units)  # fmt: skip
        else:
            row = (m.key, m.title(metrics), format_metric(m, metrics), "", m.units)
        by_section.setdefault(m.section or m.group, []).append(row)
    order = [*SECTIONS, *(s for s in by_section if s not in SECTIONS)]
    out += [(s, by_section[s]) for s in order if by_section.get(s)]
    return out


def sections_table(metrics: Mapping[str, Any], costs: bool | None = None) -> pl.DataFrame:
    """:func:`metric_sections` as one frame with :data:`SECTION_COLUMNS` (the Performance
    page's and the HTML report's metrics)."""
    rows = [(section, label, value, gross, unit)
            for section, items in metric_sections(metrics, costs)
            for _key, label, value, gross, unit in items]  # fmt: skip
    return pl.DataFrame(rows, schema=list(SECTION_COLUMNS), orient="row")


def sections_text(metrics: Mapping[str, Any], costs: bool | None = None) -> str:
    """:func:`metric_sections` as plain text: the headline, then one block per section."""
    costs = has_costs(metrics) if costs is None else costs
    lines = headline(metrics, costs).lines()
    for section, items in metric_sections(metrics, costs)[1:]:
        lines += ["", section]
        width = max(len(label) for _k, label, *_ in items)
        for _key, label, value, gross, unit in items:
            unit = unit.removeprefix("%").strip() if value.endswith("%") else unit
            tail = f"  {unit}" if unit else ""
            tail += f"  (gross {gross})" if gross else ""
            lines.append(f"  {label.ljust(width)}  {value}{tail}")
    return "\n".join(lines)


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
    """The summary's rows: a section title, then its metrics marked ``summary`` (indented).
    When the run models costs, the after-costs section comes first (net first)."""
    groups: dict[str, list[tuple[str, str, str, str]]] = {}
    for m in METRICS.values():
        if not m.summary:
            continue
        bench = format_value(metrics.get(m.benchmark), m.kind) if m.benchmark else ""
        groups.setdefault(m.group, []).append(
            (f"  {m.title(metrics)}", format_metric(m, metrics), format_claim(m), bench)
        )
    order = list(groups)
    if has_costs(metrics) and NET_GROUP in order:
        order.remove(NET_GROUP)
        order.insert(0, NET_GROUP)
    return [row for group in order for row in [(group, "", "", ""), *groups[group]]]


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
