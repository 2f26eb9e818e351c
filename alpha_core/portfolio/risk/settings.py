"""The risk model's settings: windows, half-lives and limits, each declared once."""

from __future__ import annotations

from dataclasses import dataclass

from alpha_core.base.settings import setting

GROUP_CHOICES = ("auto", "sector", "asset_class", "none")
"""Which metadata column gives the industry dummies; "auto": sector, else asset_class."""


@dataclass(frozen=True)
class RiskSettings:
    """How the factor risk model is estimated (trading days; variances are daily)."""

    risk_group: str = setting(
        "auto",
        label="Risk model groups",
        choices=GROUP_CHOICES,
        help="metadata column whose values are dummy factors (auto: sector, else asset_class; "
        "none: no group factors)",
        section="Costs & limits",
        advanced=True,
    )
    risk_vol_scaled: bool = setting(
        True,
        label="Volatility-scaled loadings",
        help="a name's loading on each factor is its exposure times its own volatility "
        "(the regression explains returns in units of each name's volatility)",
        section="Costs & limits",
        advanced=True,
    )
    risk_min_history: int = setting(
        63,
        label="Minimum history",
        lo=2,
        help="returns a name needs before it gets a risk row",
        section="Costs & limits",
        advanced=True,
    )
    risk_statistical_factors: int = setting(
        5,
        label="Statistical factors",
        lo=0,
        help="principal components of the trailing specific returns added as factors "
        "(recomputed on the first date of each calendar month; 0: none)",
        section="Costs & limits",
        advanced=True,
    )
    risk_statistical_with_groups: bool = setting(
        False,
        label="Statistical factors with groups",
        help="add the statistical factors also when the panel has group metadata "
        "(by default only without it, where they stand in for industries)",
        section="Costs & limits",
        advanced=True,
    )
    risk_statistical_window: int = setting(
        252,
        label="Statistical factor window",
        lo=2,
        help="days of specific returns behind each recompute of the statistical factors",
        section="Costs & limits",
        advanced=True,
    )
    risk_beta_halflife: float = setting(
        126.0,
        label="Beta half-life",
        lo=1,
        help="EWMA half-life of the market-beta regression",
        section="Costs & limits",
        advanced=True,
    )
    risk_vol_halflife: float = setting(
        42.0,
        label="Volatility half-life",
        lo=1,
        help="EWMA half-life of the volatility factor",
        section="Costs & limits",
        advanced=True,
    )
    risk_size_window: int = setting(
        63,
        label="Size window",
        lo=1,
        help="days of average dollar volume (size, weights)",
        section="Costs & limits",
        advanced=True,
    )
    risk_momentum_window: int = setting(
        126,
        label="Momentum window",
        lo=2,
        help="days of the medium-term momentum return",
        section="Costs & limits",
        advanced=True,
    )
    risk_momentum_skip: int = setting(
        21,
        label="Momentum skip",
        lo=0,
        help="most recent days left out of momentum",
        section="Costs & limits",
        advanced=True,
    )
    risk_reversal_window: int = setting(
        21,
        label="Reversal window",
        lo=1,
        help="days of the short-term reversal return",
        section="Costs & limits",
        advanced=True,
    )
    risk_week_reversal_window: int = setting(
        5,
        label="Week reversal window",
        lo=1,
        help="days of the one-week reversal return (a second, faster reversal factor)",
        section="Costs & limits",
        advanced=True,
    )
    risk_liquidity_window: int = setting(
        21,
        label="Liquidity window",
        lo=1,
        help="days of the Amihud illiquidity average",
        section="Costs & limits",
        advanced=True,
    )
    risk_winsor_limit: float = setting(
        3.0,
        label="Winsor limit",
        lo=0,
        closed="neither",
        help="exposures clipped at +-this z",
        section="Costs & limits",
        advanced=True,
    )
    risk_factor_halflife: float = setting(
        90.0,
        label="Factor half-life",
        lo=1,
        help="EWMA half-life of the factor covariance",
        section="Costs & limits",
        advanced=True,
    )
    risk_noise_correction: bool = setting(
        True,
        label="Factor noise correction",
        help="subtract the regressions' estimation noise from the factor covariance",
        section="Costs & limits",
        advanced=True,
    )
    risk_regime_halflife: float = setting(
        42.0,
        label="Volatility-regime half-life",
        lo=0,
        help="EWMA half-life of the volatility-regime adjustment: factor and specific risk "
        "are scaled by the recent mean square of returns over their forecast volatility "
        "(the cross-sectional bias statistic); 0: no adjustment",
        section="Costs & limits",
        advanced=True,
    )
    risk_specific_halflife: float = setting(
        60.0,
        label="Specific half-life",
        lo=1,
        help="EWMA half-life of specific variances",
        section="Costs & limits",
        advanced=True,
    )
    risk_min_factor_days: int = setting(
        63,
        label="Minimum factor days",
        lo=1,
        help="factor returns needed before forecasts",
        section="Costs & limits",
        advanced=True,
    )
    risk_specific_prior_obs: float = setting(
        10.0,
        label="Specific prior weight",
        lo=0,
        help="observations' worth of weight on the structural prior of a specific variance",
        section="Costs & limits",
        advanced=True,
    )
    risk_min_regression_assets: int = setting(
        10,
        label="Minimum regression names",
        lo=2,
        help="names a day's regression needs",
        section="Costs & limits",
        advanced=True,
    )
