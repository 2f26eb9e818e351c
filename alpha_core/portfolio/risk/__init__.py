"""A daily, leak-free fundamental-style factor risk model estimated from the panel alone.

``estimate_risk(panel, RiskSettings()) -> RiskModel``; ``RiskModel.at(day) -> RiskSnapshot``;
bias statistics of test portfolios in :mod:`alpha_core.portfolio.risk.bias`. See docs/risk.md.
"""

from alpha_core.portfolio.risk.bias import bias_report, bias_statistic, portfolio_z
from alpha_core.portfolio.risk.exposures import STYLES
from alpha_core.portfolio.risk.model import RiskModel, RiskSnapshot, estimate_risk
from alpha_core.portfolio.risk.settings import RiskSettings

__all__ = [
    "STYLES",
    "RiskModel",
    "RiskSettings",
    "RiskSnapshot",
    "bias_report",
    "bias_statistic",
    "estimate_risk",
    "portfolio_z",
]
