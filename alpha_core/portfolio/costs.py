"""One trading-cost model, shared by the optimiser (cvxpy) and the backtest's P&L (numpy).

For a trade ``d_i = w_i - w_prev_i`` (a fraction of capital) into weights ``w``, name i costs

    spread_i |d_i|  +  impact_i |d_i|^(3/2)  +  borrow_i max(-w_i, 0)

with ``spread_i = cost_bps / 1e4``; ``impact_i = impact_coef * vol_i /
sqrt(adv_i / capital)`` (the square-root law: a trade of size Q in a name trading V a day
costs ``impact_coef * vol * sqrt(Q / V)`` per unit traded, so ``Q / capital = |d|`` gives the
3/2 power); ``borrow_i = borrow_bps / 1e4 / periods`` per bar on the short weight
(``periods``: bars a year of the run's calendar). ``vol`` is the daily volatility of returns,
``adv`` the average daily traded value in the currency of ``capital``. A name with no
usable ``adv`` or ``vol`` gets no impact term (the optimiser's participation cap then holds
it: it cannot be traded).

With ``impact_coef = 0`` the cost is the backtest's flat
cost exactly: ``cost_bps / 1e4 * turnover + borrow_bps / 1e4 / periods * gross_short``
(:func:`alpha_core.portfolio.backtest.add_costs`).

The expression is written once (:func:`name_costs_with`) over a small set of operations
(:class:`Ops`); :data:`NUMPY_OPS` evaluates it on arrays, :func:`cvxpy_ops` builds it on
cvxpy expressions and parameters, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alpha_core.base.settings import setting

PERIODS = 252
"""Bars a year of a daily equity calendar (the default ``periods``)."""


@dataclass(frozen=True)
class CostSettings:
    """What trading costs: half-spread, square-root impact, borrow, and the capital traded."""

    cost_bps: float = setting(
        0.0,
        label="Trading cost (bps per unit turnover)",
        lo=0,
        hi=10_000,
        step=1.0,
        fmt="%.1f",
        section="Costs & limits",
        help="proportional cost in basis points per unit of turnover (sum |w_t - w_t-1|)",
    )
    borrow_bps: float = setting(
        0.0,
        label="Borrow fee (bps per year)",
        lo=0,
        hi=10_000,
        step=10.0,
        fmt="%.1f",
        section="Costs & limits",
        help="fee on the short book, basis points per year",
    )

    impact_coef: float = setting(
        0.0,
        label="Impact coefficient",
        lo=0,
        hi=100,
        step=0.1,
        fmt="%.2f",
        section="Costs & limits",
        help="square-root law: a trade of Q in a name trading ADV a day costs "
        "coef x daily vol x sqrt(Q / ADV) per unit traded; 0: no impact",
    )
    capital: float = setting(
        10_000_000.0,
        label="Capital",
        lo=0,
        closed="neither",
        step=1_000_000.0,
        fmt="%.0f",
        section="Costs & limits",
        help="capital traded (currency of the bars' close x volume): sets trade sizes "
        "against daily volume for impact and participation",
    )


@dataclass(frozen=True)
class CostCoefficients:
    """Per-name coefficients of one day's cost (each an ``(n,)`` array, fractions)."""

    spread: np.ndarray
    impact: np.ndarray
    borrow: np.ndarray

    @property
    def has_impact(self) -> bool:
        return bool(np.any(self.impact > 0))


def coefficients(
    costs: CostSettings,
    vol: np.ndarray,
    adv: np.ndarray,
    periods: int = PERIODS,
) -> CostCoefficients:
    """The day's :class:`CostCoefficients` from daily vols and average daily traded values."""
    vol = np.asarray(vol, dtype=float)
    adv = np.asarray(adv, dtype=float)
    n = vol.shape[0]
    usable = np.isfinite(vol) & np.isfinite(adv) & (adv > 0) & (vol >= 0)
    impact = np.zeros(n)
    if costs.impact_coef > 0:
        impact[usable] = costs.impact_coef * vol[usable] / np.sqrt(adv[usable] / costs.capital)
    return CostCoefficients(
        spread=np.full(n, costs.cost_bps / 1e4),
        impact=impact,
        borrow=np.full(n, costs.borrow_bps / 1e4 / periods),
    )


@dataclass(frozen=True)
class Ops:
    """The operations the cost expression needs, for one backend (numpy or cvxpy)."""

    abs: Callable[[Any], Any]
    pow_3_2: Callable[[Any], Any]
    """``x ** 1.5`` of a non-negative ``x``."""
    neg: Callable[[Any], Any]
    """``max(-x, 0)``."""
    mul: Callable[[Any, Any], Any]
    """Elementwise product."""
    total: Callable[[Any], Any]


NUMPY_OPS = Ops(
    abs=np.abs,
    pow_3_2=lambda x: x**1.5,
    neg=lambda x: np.maximum(-x, 0.0),
    mul=np.multiply,
    total=np.sum,
)


def cvxpy_ops(constraints: list[Any] | None = None) -> Ops:
    """:class:`Ops` on cvxpy expressions (cvxpy is imported here, not by the P&L's users).

    With a ``constraints`` list, ``abs`` and ``neg`` are written as epigraph variables
    (``t >= x, t >= -x``; ``v >= -x, v >= 0``) whose constraints are appended to it: exact
    where the objective pushes them down (a cost with a non-negative coefficient), and their
    argument may hold parameters (``w - w_prev``) and stay DPP with no variable of its own."""
    import cvxpy as cp

    if constraints is None:
        abs_, neg = cp.abs, cp.neg
    else:

        def abs_(x: Any) -> Any:
            t = cp.Variable(x.shape)
            constraints.extend([t >= x, t >= -x])
            return t

        def neg(x: Any) -> Any:
            v = cp.Variable(x.shape, nonneg=True)
            constraints.append(v >= -x)
            return v

    return Ops(
        abs=abs_,
        pow_3_2=lambda x: cp.power(x, 1.5, approx=False),
        neg=neg,
        mul=cp.multiply,
        total=cp.sum,
    )


def name_costs_with(
    ops: Ops, trade: Any, weights: Any, c: Any, impact: bool = True, borrow: bool = True
) -> Any:
    """THE cost expression: per-name cost of ``trade`` into ``weights`` with coefficients
    ``c`` (anything with ``spread``, ``impact`` and ``borrow``: arrays or cvxpy parameters).
    ``impact=False`` / ``borrow=False`` leave that term out (its coefficients are all zero)."""
    size = ops.abs(trade)
    out = ops.mul(c.spread, size)
    if borrow:
        out = out + ops.mul(c.borrow, ops.neg(weights))
    if impact:
        out = out + ops.mul(c.impact, ops.pow_3_2(size))
    return out


def cost_with(
    ops: Ops, trade: Any, weights: Any, c: Any, impact: bool = True, borrow: bool = True
) -> Any:
    """The total of :func:`name_costs_with`."""
    return ops.total(name_costs_with(ops, trade, weights, c, impact, borrow))


def name_costs(trade: np.ndarray, weights: np.ndarray, c: CostCoefficients) -> np.ndarray:
    """Per-name cost (fractions of capital) of ``trade`` into ``weights``: numpy."""
    trade, weights = np.asarray(trade, dtype=float), np.asarray(weights, dtype=float)
    return name_costs_with(NUMPY_OPS, trade, weights, c)


def trade_cost(trade: np.ndarray, weights: np.ndarray, c: CostCoefficients) -> float:
    """Total cost (a fraction of capital) of ``trade`` into ``weights``: for the P&L."""
    return float(np.sum(name_costs(trade, weights, c)))


def cost_parts(trade: np.ndarray, weights: np.ndarray, c: CostCoefficients) -> dict[str, float]:
    """The total split into ``spread``, ``impact`` and ``borrow`` (they sum to it), each the
    same expression with the other coefficients set to zero."""
    zero = np.zeros_like(c.spread)
    parts = {
        "spread": CostCoefficients(c.spread, zero, zero),
        "impact": CostCoefficients(zero, c.impact, zero),
        "borrow": CostCoefficients(zero, zero, c.borrow),
    }
    return {name: trade_cost(trade, weights, part) for name, part in parts.items()}
