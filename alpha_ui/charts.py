"""Altair charts of the app's frames (``alpha_core.evaluation.views`` /
``alpha_core.evaluation.explain``).

Every chart has titled axes; heights suit a 1280x800 window.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from alpha_core.views import SERIES_LABELS

H = 260
SERIES_ORDER = [
    SERIES_LABELS[s] for s in ("long", "short", "long_short", "long_short_net", "benchmark")
]
SERIES_COLORS = ["#2e7d32", "#c62828", "#1565c0", "#6a1b9a", "#757575"]


DATE_FORMAT = "%Y-%m-%d"
"""Dates on axes and in tooltips: the day, never a time of day (``00:00``)."""


def date_x(title: str = "Date") -> alt.X:
    """The ``date`` column on the x axis, labelled ``YYYY-MM-DD``."""
    return alt.X("date:T", title=title, axis=alt.Axis(format=DATE_FORMAT, labelOverlap=True))


def date_tip() -> alt.Tooltip:
    """The ``date`` column in a tooltip, as ``YYYY-MM-DD``."""
    return alt.Tooltip("date:T", title="Date", format=DATE_FORMAT)


def _pd(frame: pl.DataFrame):
    return frame.to_pandas()


def _series_scale(frame: pl.DataFrame) -> alt.Scale:
    present = set(frame["series"].unique().to_list())
    pairs = [(s, c) for s, c in zip(SERIES_ORDER, SERIES_COLORS, strict=True) if s in present]
    return alt.Scale(domain=[s for s, _ in pairs], range=[c for _, c in pairs])


MAX_DRAWN_DATES = 750
"""A line chart draws at most this many dates: a 1280-pixel window cannot show more, and
sending 20 years of days to the browser on every rerun is what made Books slow."""


def thin(frame: pl.DataFrame, max_dates: int = MAX_DRAWN_DATES) -> pl.DataFrame:
    """``frame`` on at most ``max_dates`` evenly strided dates (the first and last kept)."""
    dates = frame.get_column("date").unique().sort()
    if dates.len() <= max_dates:
        return frame
    step = -(-dates.len() // max_dates)
    keep = pl.concat([dates.gather_every(step), dates.tail(1)]).unique()
    return frame.filter(pl.col("date").is_in(keep.implode()))


def equity(frame: pl.DataFrame, title: str = "Equity (growth of 1)") -> alt.Chart:
    """Equity lines, down-sampled to :data:`MAX_DRAWN_DATES` dates for drawing."""
    frame = thin(frame)
    return (
        alt.Chart(_pd(frame), title=title)
        .mark_line()
        .encode(
            x=date_x(),
            y=alt.Y("equity:Q", title="Equity (start = 1)", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "series:N",
                title="Series",
                scale=_series_scale(frame),
            ),
            # channel objects, not shorthand strings: altair infers those by walking its
            # schema, a third of the chart's build time on every Books rerun
            tooltip=[
                date_tip(),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("equity:Q", format=".4f"),
            ],
        )
        .properties(height=H)
    )


def compare_equity(frame: pl.DataFrame, title: str) -> alt.Chart:
    """``date, run, kind, equity``: one colour per run (tableau10), net dashed."""
    return (
        alt.Chart(_pd(frame), title=title)
        .mark_line()
        .encode(
            x=date_x(),
            y=alt.Y("equity:Q", title="Long-short equity (start = 1)", scale=alt.Scale(zero=False)),
            color=alt.Color("run:N", title="Run", scale=alt.Scale(scheme="tableau10")),
            strokeDash=alt.StrokeDash(
                "kind:N",
                title="Returns",
                scale=alt.Scale(domain=["gross", "net"], range=[[1, 0], [5, 3]]),
            ),  # fmt: skip
            tooltip=[
                date_tip(),
                "run:N",
                "kind:N",
                alt.Tooltip("equity:Q", format=".4f"),
            ],  # fmt: skip
        )
        .properties(height=H + 40)
    )


def drawdown(frame: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(_pd(frame), title="Underwater (drawdown from running peak)")
        .mark_line()
        .encode(
            x=date_x(),
            y=alt.Y("drawdown:Q", title="Drawdown", axis=alt.Axis(format="%")),
            color=alt.Color(
                "series:N",
                title="Series",
                scale=_series_scale(frame),
            ),
            tooltip=[date_tip(), "series:N", alt.Tooltip("drawdown:Q", format=".2%")],
        )
        .properties(height=H - 40)
    )


def _symmetric(values: pl.Series) -> list[float]:
    """A colour domain centred at 0: [-m, m] with m the largest |value| (0 is the midpoint)."""
    m = float(values.abs().max() or 0.0) or 0.01
    return [-m, m]


def cell_text(field: str, values: pl.Series) -> alt.Color | alt.ColorValue:
    """Label colour on a cell of a diverging scale centred at 0: white on the dark ends,
    near-black on the pale middle, whatever the theme (the cell is its own background)."""
    m = _symmetric(values)[1]
    return alt.condition(
        f"abs(datum['{field}']) > {0.6 * m!r}", alt.value("#ffffff"), alt.value("#1a1a1a")
    )


def yearly_bars(frame: pl.DataFrame) -> alt.Chart:
    """Yearly returns as bars, green above 0 and red below, labelled."""
    base = alt.Chart(_pd(frame), title="Yearly returns").encode(
        y=alt.Y("year:O", title="Year"),
        x=alt.X("return:Q", title="Return", axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar().encode(
        color=alt.condition("datum['return'] >= 0", alt.value("#2e7d32"), alt.value("#c62828")),
        tooltip=["year:O", alt.Tooltip("return:Q", format=".2%")],
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("return:Q", format=".1%"))
    return (bars + text).properties(height=alt.Step(30))


def turnover(frame: pl.DataFrame) -> alt.Chart:
    """Daily one-way turnover (fraction of capital traded) and its cost."""
    data = frame.unpivot(index="date", on=["turnover", "cost"], variable_name="what")
    return (
        alt.Chart(_pd(data), title="Turnover and cost a day (fraction of capital)")
        .mark_line()
        .encode(
            x=date_x(),
            y=alt.Y("value:Q", title="Fraction of capital", axis=alt.Axis(format="%")),
            color=alt.Color("what:N", title=None),
            tooltip=[date_tip(), "what:N", alt.Tooltip("value:Q", format=".3%")],
        )
        .properties(height=H - 60)
    )


def exposure(frame: pl.DataFrame, title: str) -> alt.Chart:
    """Net book weight per group over time, one line per group (shorts below 0)."""
    return (
        alt.Chart(_pd(frame), title=title)
        .mark_line(strokeWidth=1.2)
        .encode(
            x=date_x(),
            y=alt.Y("net:Q", title="Net weight", axis=alt.Axis(format="%")),
            color=alt.Color("group:N", title=None, scale=alt.Scale(scheme="tableau20")),
            tooltip=[date_tip(), "group:N", alt.Tooltip("net:Q", format=".2%")],
        )
        .properties(height=H - 40)
    )


def monthly_heatmap(frame: pl.DataFrame) -> alt.Chart:
    base = alt.Chart(_pd(frame), title="Monthly long-short returns").encode(
        x=alt.X("month:O", title="Month", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("year:O", title="Year"),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(
            "return:Q",
            title="Return",
            scale=alt.Scale(scheme="redyellowgreen", domain=_symmetric(frame["return"])),
            legend=alt.Legend(format="%"),
        ),
        tooltip=["year:O", "month:O", alt.Tooltip("return:Q", format=".2%")],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("return:Q", format=".1%"), color=cell_text("return", frame["return"])
    )
    return (rect + text).properties(height=alt.Step(30))


def rolling_sharpe(frame: pl.DataFrame, window: int) -> alt.Chart:
    line = (
        alt.Chart(_pd(frame), title=f"Rolling {window}-day Sharpe (long-short, annualised)")
        .mark_line(color="#1565c0")
        .encode(
            x=date_x(),
            y=alt.Y("rolling_sharpe:Q", title="Sharpe ratio"),
            tooltip=[date_tip(), alt.Tooltip("rolling_sharpe:Q", format=".2f")],
        )
    )
    zero = alt.Chart(pl.DataFrame({"y": [0.0]}).to_pandas()).mark_rule(color="#999").encode(y="y")
    return (line + zero).properties(height=H - 40)


def rank_ic(frame: pl.DataFrame) -> alt.Chart:
    data = _pd(frame)
    bars = (
        alt.Chart(data, title="Daily rank IC and its running mean")
        .mark_bar(opacity=0.5, color="#90a4ae")
        .encode(
            x=date_x(),
            y=alt.Y("rank_ic:Q", title="Spearman rank IC"),
            tooltip=[date_tip(), alt.Tooltip("rank_ic:Q", format=".3f")],
        )
    )
    mean = (
        alt.Chart(data)
        .mark_line(color="#e65100")
        .encode(x=date_x(), y=alt.Y("running_mean:Q", title="Spearman rank IC"))
    )
    return (bars + mean).properties(height=H - 40)


def live_assets(frame: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(_pd(frame), title="Live assets over time")
        .mark_area(opacity=0.6)
        .encode(
            x=date_x(),
            y=alt.Y("n_assets:Q", title="Assets with a close"),
            tooltip=[date_tip(), "n_assets:Q"],
        )
        .properties(height=220)
    )


def importance(frame: pl.DataFrame) -> alt.Chart:
    """``feature, measure, value`` (shares) as grouped horizontal bars."""
    order = frame.filter(pl.col("measure") == frame["measure"][0])["feature"].to_list()
    return (
        alt.Chart(_pd(frame), title="Feature importance (share of total)")
        .mark_bar()
        .encode(
            y=alt.Y("feature:N", title="Feature", sort=order),
            x=alt.X("value:Q", title="Share of total importance", axis=alt.Axis(format="%")),
            color=alt.Color("measure:N", title="Measure"),
            yOffset="measure:N",
            tooltip=["feature:N", "measure:N", alt.Tooltip("value:Q", format=".2%")],
        )
        .properties(height=max(240, 34 * frame["feature"].n_unique()))
    )


def beeswarm(frame: pl.DataFrame, order: list[str]) -> alt.Chart:
    return (
        alt.Chart(_pd(frame), title="SHAP values (beeswarm)")
        .mark_circle(size=12, opacity=0.6)
        .encode(
            y=alt.Y("feature:N", title="Feature", sort=order),
            x=alt.X("shap:Q", title="SHAP value (effect on the predicted return)"),
            yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-1, 1])),
            color=alt.Color(
                "value_pct:Q",
                title="Feature value (percentile)",
                scale=alt.Scale(scheme="bluepurple"),
            ),
            tooltip=["feature:N", alt.Tooltip("shap:Q", format=".2e"), "value:Q"],
        )
        .transform_calculate(jitter="sqrt(-2*log(random()))*cos(2*PI*random()) / 3")
        .properties(height=max(260, 34 * len(order)))
    )


def dependence(frame: pl.DataFrame, feature: str) -> alt.Chart:
    return (
        alt.Chart(_pd(frame), title=f"Dependence: SHAP of {feature} against its value")
        .mark_circle(size=14, opacity=0.5, color="#5e35b1")
        .encode(
            x=alt.X("value:Q", title=f"{feature} (feature value)", scale=alt.Scale(zero=False)),
            y=alt.Y("shap:Q", title=f"SHAP value of {feature}"),
            tooltip=[alt.Tooltip("value:Q", format=".4g"), alt.Tooltip("shap:Q", format=".2e")],
        )
        .properties(height=H + 20)
    )


def quantiles(frame: pl.DataFrame) -> alt.Chart:
    """``quantile, mean_return``: mean next-day return of each prediction quintile."""
    return (
        alt.Chart(_pd(frame), title="Mean daily return by prediction quantile")
        .mark_bar(color="#1565c0")
        .encode(
            x=alt.X(
                "quantile:O", title="Prediction quantile (1 = lowest)", axis=alt.Axis(labelAngle=0)
            ),
            y=alt.Y("mean_return:Q", title="Mean daily return", axis=alt.Axis(format=".2%")),
            tooltip=["quantile:O", alt.Tooltip("mean_return:Q", format=".4%")],
        )
        .properties(height=H - 40)
    )


def ic_decay(frame: pl.DataFrame) -> alt.Chart:
    """``horizon, rank_ic_mean``: rank IC of the prediction against h-day forward returns."""
    return (
        alt.Chart(_pd(frame), title="Rank IC decay by horizon")
        .mark_line(point=True, color="#e65100")
        .encode(
            x=alt.X("horizon:Q", title="Horizon (trading days)"),
            y=alt.Y("rank_ic_mean:Q", title="Mean rank IC"),
            tooltip=["horizon:Q", alt.Tooltip("rank_ic_mean:Q", format=".4f")],
        )
        .properties(height=H - 40)
    )


def attribution(frame: pl.DataFrame) -> alt.Chart:
    """Cumulative P&L by part (market, sectors, styles, specific, costs) and the net line."""
    return (
        alt.Chart(_pd(frame), title="Where the P&L came from (cumulative, risk model)")
        .mark_line()
        .encode(
            x=date_x(),
            y=alt.Y("cumulative:Q", title="Cumulative return", axis=alt.Axis(format="%")),
            color=alt.Color("part:N", title=None),
            strokeDash=alt.condition(
                alt.datum.part == "Net P&L", alt.value([1, 0]), alt.value([4, 2])
            ),
            tooltip=[date_tip(), "part:N", alt.Tooltip("cumulative:Q", format=".2%")],
        )
        .properties(height=H)
    )


def factor_exposures(frame: pl.DataFrame) -> alt.Chart:
    """The book's exposure to its largest factors over time."""
    return (
        alt.Chart(_pd(frame), title="Factor exposures of the book")
        .mark_line(strokeWidth=1.2)
        .encode(
            x=date_x(),
            y=alt.Y("exposure:Q", title="Exposure"),
            color=alt.Color("factor:N", title=None, scale=alt.Scale(scheme="tableau10")),
            tooltip=[date_tip(), "factor:N", alt.Tooltip("exposure:Q", format=".3f")],
        )
        .properties(height=H - 40)
    )
