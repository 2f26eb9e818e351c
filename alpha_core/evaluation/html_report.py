"""A run as one self-contained HTML file: metrics with intervals, charts, config, data.

The file needs no network and no script: charts are inline SVG drawn here from the run's
tables (long series are down-sampled for drawing only), styles are inline, every user value
is HTML-escaped. :meth:`alpha_core.runs.service.RunService.report` writes it for the app's download
button and for ``alpha report RUN_ID``.
"""

from __future__ import annotations

import html
import json
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from alpha_core.evaluation import views
from alpha_core.evaluation.report import headline, metric_sections
from alpha_core.stats import returns as stats

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
MAX_POINTS = 600
"""Points per drawn series (the numbers in the tables use every day)."""

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;background:#fff}h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem}td,th{padding:.2rem .6rem;border:1px solid #e5e5e5;
text-align:right}th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
.muted{color:#666;font-size:.85rem}pre{background:#f7f7f7;padding:.8rem;overflow:auto}
svg text{font-size:11px;fill:#333}.legend span{margin-right:1rem}
@media (prefers-color-scheme: dark){body{background:#111;color:#ddd}th{background:#222}
td,th{border-color:#333}pre{background:#1b1b1b}svg text{fill:#ccc}}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def downsample(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` evenly spaced points of ``n``, first and last included."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def svg_lines(
    dates: list[date], series: dict[str, np.ndarray], title: str, percent: bool = False
) -> str:
    """An inline SVG line chart of ``series`` (name -> values) over ``dates``."""
    width, height, left, right, top, bottom = 1000, 280, 60, 10, 24, 28
    if not dates or not series:
        return f"<p class='muted'>{esc(title)}: no data.</p>"
    keep = downsample(len(dates))
    values = np.concatenate([np.asarray(v, float)[keep] for v in series.values()])
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1.0
    x_of = lambda i: left + (width - left - right) * i / max(len(dates) - 1, 1)  # noqa: E731
    y_of = lambda v: top + (height - top - bottom) * (hi - v) / (hi - lo)  # noqa: E731
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='100%' role='img' aria-label='{esc(title)}'>",
        f"<text x='{left}' y='14' font-weight='bold'>{esc(title)}</text>",
    ]
    for tick in np.linspace(lo, hi, 5):
        label = f"{tick:.1%}" if percent else f"{tick:.3g}"
        y = y_of(tick)
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' "
            "stroke='#8884' stroke-width='0.5'/>"
            f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>{esc(label)}</text>"
        )
    for i, anchor in ((0, "start"), (len(dates) // 2, "middle"), (len(dates) - 1, "end")):
        parts.append(
            f"<text x='{x_of(i):.1f}' y='{height - 8}' text-anchor='{anchor}'>"
            f"{esc(dates[i])}</text>"
        )
    legend = []
    for k, (name, vals) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        v = np.asarray(vals, float)
        points = " ".join(f"{x_of(int(i)):.1f},{y_of(v[i]):.1f}" for i in keep if np.isfinite(v[i]))
        parts.append(
            f"<polyline fill='none' stroke='{color}' stroke-width='1.3' points='{points}'/>"
        )
        legend.append(f"<span style='color:{color}'>&#9632; {esc(name)}</span>")
    parts.append("</svg>")
    return "".join(parts) + f"<div class='legend'>{''.join(legend)}</div>"


def _cell_colour(value: float | None, scale: float) -> str:
    """Green above 0, red below, white at 0 (the scale is centred at 0)."""
    if value is None or not np.isfinite(value) or scale <= 0:
        return "transparent"
    t = min(abs(value) / scale, 1.0)
    rgb = (46, 160, 67) if value > 0 else (214, 39, 40)
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{0.15 + 0.6 * t:.2f})"


def monthly_table(daily: pl.DataFrame, column: str) -> str:
    """Months as columns, years as rows, plus the year's compounded return."""
    monthly = views.monthly_returns(daily, column)
    yearly = views.yearly_returns(daily, column)
    if monthly.is_empty():
        return "<p class='muted'>No returns.</p>"
    scale = float(np.nanmax(np.abs(monthly["return"].to_numpy()))) or 1.0
    head = "".join(f"<th>{m}</th>" for m in range(1, 13))
    rows = []
    for year in yearly["year"].to_list():
        cells = []
        for month in range(1, 13):
            hit = monthly.filter((pl.col("year") == year) & (pl.col("month") == month))
            value = hit["return"][0] if hit.height else None
            text = "" if value is None else f"{value:.1%}"
            cells.append(f"<td style='background:{_cell_colour(value, scale)}'>{text}</td>")
        total = yearly.filter(pl.col("year") == year)["return"][0]
        rows.append(f"<tr><td>{year}</td>{''.join(cells)}<th>{total:.1%}</th></tr>")
    return f"<table><tr><th>year</th>{head}<th>year</th></tr>{''.join(rows)}</table>"


def table_html(frame: pl.DataFrame, digits: int = 4) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "n/a" if not np.isfinite(v) else f"{v:.{digits}g}"
        return esc("" if v is None else v)

    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in frame.iter_rows()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def attribution_section(table: pl.DataFrame | None) -> list[str]:
    """The P&L by part (cumulative lines), when the run has its attribution."""
    if table is None or table.height == 0:
        return []
    parts = {
        label: np.cumsum(np.nan_to_num(table[key].to_numpy()))
        for key, label in views.ATTRIBUTION_LABELS.items()
        if key in table.columns
    }
    return [
        "<h2>Attribution</h2>",
        svg_lines(table["date"].to_list(), parts, "Cumulative P&L by part", percent=True),
        "<p class='muted'>Each day: market + sectors + styles + specific + costs = net P&L "
        "(the book's factor exposures times the next day's factor returns of the risk model; "
        "specific is the rest).</p>",
    ]


def headline_html(metrics: dict[str, Any]) -> str:
    """The run's headline (:func:`alpha_core.evaluation.report.headline`): net of costs with
    gross beside, or said to be gross when the run models no costs."""
    top = headline(metrics)
    items = "".join(f"<li><b>{esc(f.label)}: {esc(f.value)}</b>"
                    f"{esc(' ' + f.unit) if f.unit and f.value[-1:].isdigit() else ''}"
                    f"{esc(f' (gross {f.gross})') if f.gross else ''}"
                    f"{esc(f' - {f.note}') if f.note else ''}</li>"
                    for f in top.figures)  # fmt: skip
    return f"<h2 id='headline'>Headline ({esc(top.basis)})</h2><ul class='headline'>{items}</ul>"


def sections_html(metrics: dict[str, Any]) -> str:
    """Every metric once, by section (:func:`alpha_core.evaluation.report.metric_sections`)."""
    costs = headline(metrics).costs
    value = "net of costs" if costs else "value"
    parts = []
    for section, rows in metric_sections(metrics)[1:]:
        frame = pl.DataFrame(
            [(label, v, gross, unit) for _key, label, v, gross, unit in rows],
            schema=["metric", value, "gross", "unit"] if costs else ["metric", value, "_", "unit"],
            orient="row",
        )
        if not costs:
            frame = frame.drop("_")
        parts.append(f"<h3>{esc(section)}</h3>{table_html(frame)}")
    return "".join(parts)


def render(
    result: Any,
    meta: dict[str, Any],
    data_fingerprint: str | None = None,
) -> str:
    """The report of a loaded run (a ``RunResult``) as one HTML document."""
    m, daily = result.metrics, result.daily
    name = meta.get("name") or result.run_id
    series = views.series_for(daily) if daily.height else ()
    dates = daily["date"].to_list()
    equity = {
        views.SERIES_LABELS.get(s, s): stats.equity_curve(daily[s].to_numpy()) for s in series
    }
    drawdown = {
        views.SERIES_LABELS.get(s, s): stats.drawdown_series(daily[s].to_numpy())
        for s in series
        if s in ("long_short", "long_short_net")
    }
    net = "long_short_net" if "long_short_net" in series else "long_short"
    config_text = json.dumps(result.config.to_dict(), indent=2, sort_keys=True, default=str)
    fingerprint = data_fingerprint or "not available (the run's data source is not readable)"
    sections = [
        f"<h1>{esc(name)}</h1>",
        f"<p class='muted'>Run <code>{esc(result.run_id)}</code>, "
        f"saved {esc(meta.get('created', ''))}. "
        f"Data: {esc(meta.get('data_label') or result.config.data)}; data fingerprint "
        f"<code>{esc(fingerprint)}</code>; config fingerprint "
        f"<code>{esc(result.config.fingerprint())}</code>. Test window "
        f"{esc(m.get('test_start'))} .. {esc(m.get('test_end'))}.</p>",
        headline_html(m),
        "<h2>Equity</h2>",
        svg_lines(dates, equity, "Growth of 1 (gross; net of costs where it differs)"),
        svg_lines(dates, drawdown, "Drawdown (long-short)", percent=True),
        f"<h2>Monthly and yearly returns ({esc(views.SERIES_LABELS.get(net, net))})</h2>",
        monthly_table(daily, net) if daily.height else "<p class='muted'>No returns.</p>",
        "<h2>Worst drawdowns</h2>",
        table_html(
            views.worst_drawdowns(daily, net).with_columns(
                pl.format("{}%", (pl.col("depth") * 100).round(2)).alias("depth")
            )
        )
        if daily.height
        else "",
        *attribution_section(getattr(result, "attribution", None)),
        "<h2>Metrics</h2>",
        sections_html(m),
        "<h2>Configuration</h2>",
        f"<pre>{esc(config_text)}</pre>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(name)} - Alpha Lab report</title><style>{STYLE}</style></head><body>"
        + "".join(sections)
        + "<p class='muted'>Generated by Alpha Lab. Self-contained: no scripts, no network.</p>"
        "</body></html>"
    )
