"""The portfolio stage's settings: how books are constructed (rank books or the optimiser),
their limits, turnover control, the cost model and the risk model."""

from __future__ import annotations

from dataclasses import dataclass

from alpha_core.base.settings import ConfigError, names_of, setting
from alpha_core.portfolio.costs import CostSettings
from alpha_core.portfolio.limits import LimitSettings
from alpha_core.portfolio.optimizer import OptimizerSettings
from alpha_core.portfolio.risk import RiskSettings
from alpha_core.portfolio.sizing import SIZINGS
from alpha_core.signals.predictions import GROUP_COLUMNS


@dataclass(frozen=True)
class BookSettings(LimitSettings):
    """How predictions become rank books: percentiles, sizing, group limits, turnover."""

    long_pct: float = setting(
        0.2,
        label="Long percentile (top)",
        lo=0,
        hi=0.5,
        closed="right",
        widget="percent",
        step=0.01,
        section="Books",
        help="share of assets bought each day",
    )
    short_pct: float = setting(
        0.2,
        label="Short percentile (bottom)",
        lo=0,
        hi=0.5,
        closed="right",
        widget="percent",
        step=0.01,
        section="Books",
        help="share of assets sold each day",
    )
    sizing: str = setting(
        "equal",
        label="Sizing within a side",
        choices=names_of(SIZINGS),
        section="Books",
        help="equal; rank: |rank - 0.5|; score: |prediction - the date's median|; "
        "inverse_vol: 1 / vol_20 at the decision date",
    )
    gross_long: float = setting(
        1.0,
        label="Gross long",
        lo=0,
        hi=10,
        closed="right",
        step=0.1,
        fmt="%.2f",
        section="Costs & limits",
        help="long weights sum to +gross_long",
    )
    gross_short: float = setting(
        1.0,
        label="Gross short",
        lo=0,
        hi=10,
        closed="right",
        step=0.1,
        fmt="%.2f",
        section="Costs & limits",
        help="short weights sum to -gross_short (equal to gross_long: dollar-neutral)",
    )
    max_sector_weight: float | None = setting(
        None,
        label="Max gross per group",
        lo=0,
        hi=10,
        closed="right",
        step=0.05,
        fmt="%.3f",
        section="Costs & limits",
        help="cap on the gross weight of one group (limit_group) within a side",
    )
    limit_group: str = setting(
        "sector",
        label="Group for limits",
        choices=names_of(GROUP_COLUMNS),
        section="Costs & limits",
        help="grouping (a column of the metadata) for the group cap and the neutrality",
    )
    sector_neutral: bool = setting(
        False,
        label="Rank within each group",
        section="Costs & limits",
        help="rank predictions within each group (limit_group) per date instead of across all",
    )
    rebalance_every: int = setting(
        1,
        label="Rebalance every (days)",
        lo=1,
        section="Books",
        help="trade every k-th test date and hold the book (its weights) in between; "
        "1: every day (alpha_core.portfolio.turnover)",
    )
    hold_buffer: float = setting(
        0.0,
        label="Hold buffer",
        lo=0,
        hi=0.5,
        widget="percent",
        step=0.01,
        section="Books",
        help="a name enters the long book in the top long_pct and leaves it only below the top "
        "long_pct + buffer (the short book mirrors it); 0: no buffer",
    )
    smooth_days: int = setting(
        1,
        label="Smooth predictions over (days)",
        lo=1,
        section="Books",
        help="rank each asset by the mean of its last N predictions (known at the decision "
        "date); 1: today's prediction alone",
    )
    max_turnover: float | None = setting(
        None,
        label="Max daily turnover",
        lo=0,
        hi=20,
        closed="right",
        step=0.05,
        fmt="%.2f",
        section="Costs & limits",
        help="cap on sum |w_t - w_t-1| per day: the trade is scaled towards the target book "
        "so that it holds (empty: no cap)",
    )


CONSTRUCTIONS = {
    "rank": "long the top long_pct, short the bottom short_pct of each day's predictions "
    "(sizing, limits and turnover control as set)",
    "optimizer": "each day maximise expected alpha - risk aversion x risk - trade aversion x "
    "modelled cost from the previous book, under the limits (alpha_core.portfolio.optimizer)",
}
"""How the predictions become books (the ``construction`` setting)."""


@dataclass(frozen=True)
class PortfolioSettings(RiskSettings, OptimizerSettings, CostSettings, BookSettings):
    """How predictions become daily books and what trading them costs."""

    construction: str = setting(
        "rank",
        label="Construction",
        choices=names_of(CONSTRUCTIONS),
        section="Books",
        help="rank: the daily top/bottom percentile books; optimizer: the cost-aware "
        "optimiser on the risk model (docs/risk.md)",
    )

    def validate_construction(self) -> None:
        """Refuse settings that the chosen construction would silently ignore."""
        if self.construction != "optimizer":
            return
        ignored = [
            name
            for name in RANK_ONLY
            if getattr(self, name) != getattr(PortfolioSettings, name, None)
        ]
        if ignored:
            raise ConfigError(
                f"{', '.join(ignored)} shape rank books only; the optimiser trades off alpha, "
                "risk and costs itself (use its settings: target_vol, trade_aversion, limits)",
                field=ignored[0],
            )


RANK_ONLY = (
    "long_pct",
    "short_pct",
    "sizing",
    "gross_long",
    "gross_short",
    "max_sector_weight",
    "sector_neutral",
    "rebalance_every",
    "hold_buffer",
    "smooth_days",
    "max_turnover",
)
"""Settings of rank books that the optimiser does not read."""
