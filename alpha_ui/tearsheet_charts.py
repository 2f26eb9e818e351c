"""Altair charts of the factor tear sheet's frames (:mod:`alpha_core.evaluation.tearsheet`)."""

from __future__ import annotations

import altair as alt
import polars as pl

from alpha_ui.charts import cell_text, date_tip, date_x

H = 240
NEUTRAL = "#9e9e9e"
"""Error bars and the middle quantile: a grey readable on a light and on a dark page."""
LOW, HIGH = (229, 57, 53), (30, 136, 229)  # red (bottom quantile) .. blue (top)


def quantile_colors(frame: pl.DataFrame) -> alt.Scale:
    """Bottom quantile red, top blue, through grey: every line readable in either theme
    (a red-white-blue scheme draws the middle quantile white, invisible on a light page)."""
    qs = sorted(frame["quantile"].unique().to_list())
    grey = (158, 158, 158)
    colours = []
    for k, _ in enumerate(qs):
        t = k / max(len(qs) - 1, 1)
        a, b, u = (LOW, grey, 2 * t) if t <= 0.5 else (grey, HIGH, 2 * t - 1)
        colours.append(
            "#" + "".join(f"{round(x + (y - x) * u):02x}" for x, y in zip(a, b, strict=True))
        )
    return alt.Scale(domain=qs, range=colours)


def _pd(frame: pl.DataFrame):
    return frame.to_pandas()


def quantile_bars(frame: pl.DataFrame, title: str) -> alt.Chart:
    """Mean demeaned return per quantile with +-1.96 standard-error bars."""
    data = frame.with_columns(
        (pl.col("mean") - 1.96 * pl.col("std_error")).alias("low"),
        (pl.col("mean") + 1.96 * pl.col("std_error")).alias("high"),
    )
    base = alt.Chart(_pd(data)).encode(
        x=alt.X("quantile:O", title="Quantile", axis=alt.Axis(labelAngle=0))
    )
    y_axis = {"title": "Mean daily return", "axis": alt.Axis(format=".2%")}
    bars = base.mark_bar().encode(
        y=alt.Y("mean:Q", **y_axis),
        color=alt.condition("datum.mean >= 0", alt.value("#2e7d32"), alt.value("#c62828")),
        tooltip=[
            "quantile:O",
            alt.Tooltip("mean:Q", format=".4%"),
            alt.Tooltip("std_error:Q", format=".4%"),
        ],  # fmt: skip
    )
    errors = base.mark_rule(color=NEUTRAL, strokeWidth=1.5).encode(
        y=alt.Y("low:Q", **y_axis), y2="high:Q"
    )
    return (bars + errors).properties(height=H, title=title)


def cumulative(frame: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(_pd(frame), title="Growth of 1 by quantile (demeaned)")
        .mark_line()
        .encode(
            x=date_x(),
            y=alt.Y("growth:Q", title="Growth of 1", scale=alt.Scale(zero=False)),
            color=alt.Color("quantile:O", title="Quantile", scale=quantile_colors(frame)),
            tooltip=[date_tip(), "quantile:O", alt.Tooltip("growth:Q", format=".4f")],
        )
        .properties(height=H)
    )


def spread(frame: pl.DataFrame, window: int) -> alt.Chart:
    base = alt.Chart(_pd(frame), title="Top minus bottom quantile, a day").encode(x=date_x())
    daily = base.mark_bar(opacity=0.5, color="#42a5f5").encode(
        y=alt.Y("spread:Q", title="Return spread", axis=alt.Axis(format=".1%"))
    )
    rolling = base.mark_line(color="#e65100").encode(
        y="rolling:Q", tooltip=[date_tip(), alt.Tooltip("rolling:Q", format=".3%")]
    )
    return (daily + rolling).properties(height=H, title=f"Spread (bars) and {window}-day mean")


def ic_histogram(frame: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(_pd(frame), title="Daily IC distribution")
        .mark_bar()
        .encode(
            x=alt.X("ic:Q", bin=alt.Bin(maxbins=30), title="Daily rank IC"),
            y=alt.Y("count():Q", title="Days"),
        )
        .properties(height=H)
    )


def ic_qq(frame: pl.DataFrame) -> alt.Chart:
    points = (
        alt.Chart(_pd(frame), title="IC Q-Q plot against the normal")
        .mark_circle(size=18)
        .encode(
            x=alt.X("theoretical:Q", title="Normal quantile"),
            y=alt.Y("observed:Q", title="Observed IC"),
        )
    )
    fit = points.transform_regression("theoretical", "observed").mark_line(color="#c62828")
    return (points + fit).properties(height=H)


def monthly_ic(frame: pl.DataFrame) -> alt.Chart:
    m = float(frame["ic"].abs().max() or 0.0) or 0.01
    base = alt.Chart(_pd(frame), title="Mean IC by month").encode(
        x=alt.X("month:O", title="Month", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("year:O", title="Year"),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("ic:Q", title="IC", scale=alt.Scale(scheme="redblue", domain=[-m, m])),
        tooltip=["year:O", "month:O", alt.Tooltip("ic:Q", format=".3f")],
    )
    text = base.mark_text().encode(
        text=alt.Text("ic:Q", format=".2f"), color=cell_text("ic", frame["ic"])
    )
    return (rect + text).properties(height=alt.Step(28))


def ic_decay(frame: pl.DataFrame) -> alt.Chart:
    data = frame.with_columns(
        (pl.col("ic_mean") - 1.96 * pl.col("ic_std_error")).alias("low"),
        (pl.col("ic_mean") + 1.96 * pl.col("ic_std_error")).alias("high"),
    )
    base = alt.Chart(_pd(data), title="IC decay (mean daily IC, +-1.96 se)").encode(
        x=alt.X("horizon:O", title="Forward horizon (trading days)")
    )
    return (
        base.mark_bar(color="#1565c0").encode(y=alt.Y("ic_mean:Q", title="Mean rank IC"))
        + base.mark_errorbar(color=NEUTRAL, thickness=1.5).encode(
            y=alt.Y("low:Q", title="Mean rank IC"), y2="high:Q"
        )
    ).properties(height=H)


def lines(
    frame: pl.DataFrame, y: str, title: str, axis: str, color: str | None = None
) -> alt.Chart:
    """Daily lines of ``y``; ``axis`` a short y-axis title (a long one is cut at 240 px)."""
    enc = {"x": date_x(), "y": alt.Y(f"{y}:Q", title=axis)}
    if color:
        scale = quantile_colors(frame) if color == "quantile" else alt.Undefined
        enc["color"] = alt.Color(f"{color}:O", title=color.capitalize(), scale=scale)
    return alt.Chart(_pd(frame), title=title).mark_line().encode(**enc).properties(height=H)
