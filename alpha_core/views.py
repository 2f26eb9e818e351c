"""Chart- and table-ready frames of runs for front ends (a facade).

Everything of :mod:`alpha_core.evaluation.views` (equity, drawdowns, returns tables, config
diffs...), the metric registry and its formatting (:mod:`~alpha_core.evaluation.report`),
the factor tear sheet (:mod:`~alpha_core.evaluation.tearsheet`), explanations
(:mod:`~alpha_core.evaluation.explain`) and the desk's tables.
"""

from alpha_core.desk.ledger import ledger_table
from alpha_core.desk.monitor import prediction_shares
from alpha_core.evaluation import explain, report, tearsheet
from alpha_core.evaluation.explain import Explanations
from alpha_core.evaluation.metrics import METRICS
from alpha_core.evaluation.report import (
    Figure,
    Headline,
    format_metric,
    format_value,
    headline,
    headline_table,
    metric_sections,
    performance_summary,
    sections_table,
    sections_text,
)
from alpha_core.evaluation.views import (
    ATTRIBUTION_LABELS,
    SERIES,
    SERIES_LABELS,
    aligned_equity,
    asset_sectors,
    attribution_frame,
    book_dates,
    book_for_date,
    common_days,
    config_diff,
    data_source,
    drawdown_frame,
    equity_frame,
    exposure_by_group,
    exposure_frame,
    flatten,
    folds_table,
    ic_frame,
    metrics_by_run,
    monthly_returns,
    rolling_sharpe,
    series_for,
    sharpe_difference,
    turnover_frame,
    worst_drawdowns,
    yearly_returns,
)
from alpha_core.features.library import definitions
from alpha_core.portfolio.books import books_csv, side_book
from alpha_core.research.selection import TURNOVER_FIELDS
from alpha_core.signals.predictions import IC_HORIZONS, fwd_col

__all__ = [
    "ATTRIBUTION_LABELS",
    "attribution_frame",
    "exposure_frame",
    "Explanations",
    "Figure",
    "Headline",
    "IC_HORIZONS",
    "METRICS",
    "SERIES",
    "SERIES_LABELS",
    "TURNOVER_FIELDS",
    "aligned_equity",
    "asset_sectors",
    "book_dates",
    "book_for_date",
    "books_csv",
    "common_days",
    "config_diff",
    "data_source",
    "definitions",
    "drawdown_frame",
    "equity_frame",
    "explain",
    "exposure_by_group",
    "flatten",
    "folds_table",
    "format_metric",
    "format_value",
    "fwd_col",
    "headline",
    "headline_table",
    "ic_frame",
    "ledger_table",
    "metric_sections",
    "metrics_by_run",
    "monthly_returns",
    "performance_summary",
    "prediction_shares",
    "report",
    "rolling_sharpe",
    "sections_table",
    "sections_text",
    "series_for",
    "sharpe_difference",
    "side_book",
    "tearsheet",
    "turnover_frame",
    "worst_drawdowns",
    "yearly_returns",
]
