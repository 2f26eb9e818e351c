"""The cost model and the cost-aware optimiser against independent formulations.

The optimiser's weights are checked against cvxportfolio's single-period optimisation (its
own cost model: half-spread plus sigma x |z|^(3/2) / sqrt(volume / value), the same as ours)
and against a plain cvxpy problem written with the full n x n covariance; each limit is shown
binding; the numpy and cvxpy cost expressions agree; the flat cost is today's backtest cost.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import cvxpy as cp
import numpy as np
import polars as pl
import pytest

from alpha_core.portfolio.backtest import add_costs
from alpha_core.portfolio.costs import (
    CostCoefficients,
    CostSettings,
    coefficients,
    cost_parts,
    cost_with,
    cvxpy_ops,
    trade_cost,
)
from alpha_core.portfolio.optimizer import (
    Optimizer,
    OptimizerSettings,
    alpha_from_scores,
    risk_aversion_for,
    variance,
)

CAPITAL = 1e7
TOL = 1e-6


@dataclass(frozen=True)
class Snap:
    assets: tuple[str, ...]
    factors: tuple[str, ...]
    exposures: np.ndarray
    factor_cov: np.ndarray
    specific_var: np.ndarray

    @property
    def cov(self) -> np.ndarray:
        return self.exposures @ self.factor_cov @ self.exposures.T + np.diag(self.specific_var)


@dataclass(frozen=True)
class Day:
    risk: Snap
    alpha: np.ndarray
    prev: np.ndarray
    vol: np.ndarray
    adv: np.ndarray


def make_day(n: int = 12, seed: int = 0) -> Day:
    """A fixed small day: factors beta, two sectors and a style; daily units."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4))
    x[:, 0] = 1 + 0.3 * rng.normal(size=n)
    x[np.arange(n), 1 + np.arange(n) % 2] = 1.0
    x[:, 3] = rng.normal(size=n)
    a = rng.normal(size=(4, 4)) * 0.004
    names = tuple(f"A{i:02d}" for i in range(n))
    risk = Snap(
        names,
        ("beta", "sector:a", "sector:b", "size"),
        x,
        a @ a.T,
        (0.01 + 0.01 * rng.random(n)) ** 2,
    )
    vol = 0.015 + 0.01 * rng.random(n)
    prev = rng.normal(size=n) * 0.03
    return Day(
        risk,
        alpha_from_scores(rng.normal(size=n), 0.05, vol),
        prev - prev.mean(),
        vol,
        rng.lognormal(15, 1, n),
    )


def solve(day: Day, s: OptimizerSettings, c: CostSettings, solver: str = "CLARABEL"):
    return Optimizer(s, c, solver=solver).solve(day.risk, day.alpha, day.prev, day.vol, day.adv)


def reference(day: Day, s: OptimizerSettings, c: CostSettings, lam: float) -> np.ndarray:
    """The same problem written independently: full covariance, explicit constraints."""
    r, n = day.risk, len(day.risk.assets)
    w = cp.Variable(n)
    trade = w - day.prev
    impact = c.impact_coef * day.vol / np.sqrt(day.adv / c.capital)
    cost = (
        c.cost_bps / 1e4 * cp.sum(cp.abs(trade))
        + impact @ cp.power(cp.abs(trade), 1.5, approx=False)
        + c.borrow_bps / 1e4 / 252 * cp.sum(cp.pos(-w))
    )
    risk = cp.quad_form(w, cp.psd_wrap(r.cov))
    cons = [cp.sum(w) == s.net_exposure, cp.sum(cp.abs(w)) <= s.max_gross]
    if s.max_weight is not None:
        cons.append(cp.abs(w) <= s.max_weight)
    if s.beta_bound is not None:
        cons.append(cp.abs(r.exposures[:, 0] @ w) <= s.beta_bound)
    if s.sector_bound is not None:
        cons += [cp.abs(r.exposures[:, j] @ w) <= s.sector_bound for j in (1, 2)]
    if s.participation is not None:
        cons.append(cp.abs(trade) * c.capital <= s.participation * day.adv)
    obj = 1e4 * (day.alpha @ w - lam * risk - s.trade_aversion * cost)
    cp.Problem(cp.Maximize(obj), cons).solve(
        solver="CLARABEL", tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9
    )
    return np.asarray(w.value)


LIMITS = OptimizerSettings(
    risk_aversion=2.0,
    max_gross=0.5,
    max_weight=0.08,
    beta_bound=0.02,
    sector_bound=0.03,
    participation=0.05,
)
COSTS = CostSettings(cost_bps=5.0, impact_coef=0.8, borrow_bps=50.0, capital=CAPITAL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_match_a_full_covariance_formulation(seed: int) -> None:
    day = make_day(15, seed)
    sol = solve(day, LIMITS, COSTS)
    assert sol.status == "optimal"
    np.testing.assert_allclose(sol.weights, reference(day, LIMITS, COSTS, 2.0), atol=TOL)


@pytest.mark.parametrize("solver", ["CLARABEL", "OSQP"])
def test_both_solvers_match_the_reference_on_the_quadratic_case(solver: str) -> None:
    """Quadratic risk + linear (half-spread, borrow) cost + every limit: a QP."""
    day, costs = make_day(15, 3), dataclasses.replace(COSTS, impact_coef=0.0)
    sol = solve(day, LIMITS, costs, solver)
    assert sol.status == "optimal"
    np.testing.assert_allclose(sol.weights, reference(day, LIMITS, costs, 2.0), atol=TOL)


def test_weights_match_cvxportfolio_single_period_optimisation() -> None:
    cvx = pytest.importorskip("cvxportfolio", reason="cvxportfolio (test extra) is not installed")
    pd = pytest.importorskip("pandas")
    day = make_day(14, 7)
    day = dataclasses.replace(day, alpha=100 * day.alpha)  # enough to trade into the limits
    r, names, lam = day.risk, list(day.risk.assets), 50.0
    s = OptimizerSettings(risk_aversion=lam, max_gross=0.4, max_weight=0.06)
    c = dataclasses.replace(COSTS, borrow_bps=0.0)  # its borrow needs a market calendar
    ours = solve(day, s, c)
    series = lambda v: pd.Series(v, index=names)  # noqa: E731
    objective = (
        cvx.ReturnsForecast(r_hat=series(day.alpha))
        - lam
        * cvx.FactorModelCovariance(
            F=pd.DataFrame(r.exposures.T, columns=names),
            d=series(r.specific_var),
            Sigma_F=pd.DataFrame(r.factor_cov),
        )
        - cvx.TransactionCost(
            a=c.cost_bps / 1e4,
            b=c.impact_coef,
            sigma=series(day.vol),
            volume_hat=series(day.adv),
            exponent=1.5,
        )
    )
    limits = [
        cvx.DollarNeutral(),
        cvx.LeverageLimit(0.4),
        cvx.MaxWeights(0.06),
        cvx.MinWeights(-0.06),
    ]
    policy = cvx.SinglePeriodOptimization(
        objective,
        limits,
        include_cash_return=False,
        solver="CLARABEL",
        tol_gap_abs=1e-12,
        tol_gap_rel=1e-12,
        tol_feas=1e-12,
    )
    holdings = pd.Series(np.r_[day.prev * CAPITAL, CAPITAL], index=[*names, "USDOLLAR"])
    trades, _, _ = policy.execute(holdings, market_data=None, t=pd.Timestamp("2024-01-02"))
    theirs = ((holdings + trades) / holdings.sum()).to_numpy()[:-1]
    assert ours.status == "optimal"
    assert np.abs(ours.weights - theirs).max() < TOL


def _free(**change: object) -> OptimizerSettings:
    base = OptimizerSettings(risk_aversion=0.5, max_gross=3.0)
    return dataclasses.replace(base, **change)


def test_each_limit_binds_where_the_free_book_breaks_it() -> None:
    day = make_day(16, 4)
    costs = dataclasses.replace(COSTS, impact_coef=0.0, cost_bps=1.0)
    free = solve(day, _free(), costs).weights
    x = day.risk.exposures
    checks = {
        "max_gross": (0.3, lambda w: np.abs(w).sum()),
        "max_weight": (0.04, lambda w: np.abs(w).max()),
        "beta_bound": (0.01, lambda w: abs(x[:, 0] @ w)),
        "sector_bound": (0.01, lambda w: max(abs(x[:, 1] @ w), abs(x[:, 2] @ w))),
        "participation": (0.01, lambda w: (np.abs(w - day.prev) * CAPITAL / day.adv).max()),
    }
    for name, (bound, measure) in checks.items():
        assert measure(free) > bound * 1.05, name  # the free book breaks it
        sol = solve(day, _free(**{name: bound}), costs)
        assert sol.status == "optimal", name
        assert measure(sol.weights) == pytest.approx(bound, abs=1e-7), name


def test_net_exposure_target_and_side_risk_budget_hold() -> None:
    day = make_day(16, 5)
    sol = solve(day, _free(net_exposure=0.2), COSTS)
    assert sol.weights.sum() == pytest.approx(0.2, abs=1e-8)
    free = solve(day, _free(), COSTS).weights
    side_vol = lambda w: np.sqrt(variance(w, day.risk) * 252)  # noqa: E731
    budget = 0.6 * side_vol(np.clip(free, 0, None))
    w = solve(day, _free(side_risk_budget=budget), COSTS).weights
    assert side_vol(np.clip(w, 0, None)) <= budget + 1e-7
    assert side_vol(np.clip(-w, 0, None)) <= budget + 1e-7
    assert max(side_vol(np.clip(w, 0, None)), side_vol(np.clip(-w, 0, None))) == pytest.approx(
        budget, rel=1e-5
    )


def test_infeasible_day_falls_back_to_the_previous_book_and_is_counted() -> None:
    day = make_day(10, 6)
    day = dataclasses.replace(day, prev=day.prev + 0.05)  # net +0.5, may not trade away
    opt = Optimizer(_free(participation=1e-9, max_gross=0.4), COSTS)
    sol = opt.solve(day.risk, day.alpha, day.prev, day.vol, day.adv)
    assert sol.fallback and sol.status.startswith("fallback: infeasible")
    assert opt.stats.fallbacks == 1 and opt.stats.solves == 1
    expected = day.prev * 0.4 / np.abs(day.prev).sum()
    np.testing.assert_allclose(sol.weights, expected, atol=1e-12)


def test_compiled_once_per_universe_and_absent_names_held_at_zero() -> None:
    day = make_day(12, 8)
    opt = Optimizer(_free(max_weight=0.2), COSTS, universe=day.risk.assets)
    for shift in range(3):
        alpha = np.roll(day.alpha, shift)
        opt.solve(day.risk, alpha, day.prev, day.vol, day.adv)
    assert opt.stats.builds == 1 and opt.stats.solves == 3
    keep = np.arange(12) != 4  # one name leaves: same problem, it is held at 0
    r = day.risk
    fewer = Snap(
        tuple(np.array(r.assets)[keep]),
        r.factors,
        r.exposures[keep],
        r.factor_cov,
        r.specific_var[keep],
    )
    sub = Day(
        fewer, day.alpha[keep], day.prev[keep] - day.prev[keep].mean(), day.vol[keep], day.adv[keep]
    )
    sol = opt.solve(sub.risk, sub.alpha, sub.prev, sub.vol, sub.adv)
    assert opt.stats.builds == 1 and sol.status == "optimal"
    np.testing.assert_allclose(
        sol.weights, solve(sub, _free(max_weight=0.2), COSTS).weights, atol=TOL
    )
    new = Snap((*r.assets[:-1], "NEW"), r.factors, r.exposures, r.factor_cov, r.specific_var)
    opt.solve(new, day.alpha, day.prev, day.vol, day.adv)
    assert opt.stats.builds == 2 and opt._compiled is not None and opt._compiled.n == 13


def test_numpy_and_cvxpy_costs_agree_on_random_trades() -> None:
    rng = np.random.default_rng(0)
    ops = cvxpy_ops()
    for _ in range(20):
        n = int(rng.integers(1, 40))
        c = coefficients(COSTS, rng.uniform(0.005, 0.05, n), rng.lognormal(15, 2, n), periods=252)
        trade, weights = rng.normal(size=n) * 0.05, rng.normal(size=n) * 0.05
        d, w = cp.Variable(n, value=trade), cp.Variable(n, value=weights)
        params = CostCoefficients(
            *(cp.Parameter(n, nonneg=True, value=v) for v in (c.spread, c.impact, c.borrow))
        )
        expr = cost_with(ops, d, w, params)
        assert expr.is_dcp(dpp=True) and expr.is_convex()
        assert expr.value == pytest.approx(trade_cost(trade, weights, c), rel=1e-12, abs=1e-18)
        assert sum(cost_parts(trade, weights, c).values()) == pytest.approx(
            trade_cost(trade, weights, c), rel=1e-12
        )


def test_epigraph_costs_are_exact_at_their_minimum() -> None:
    """The optimiser's form (epigraph variables over ``w - w_prev``, a parameter) gives the
    numpy cost when the objective pushes the epigraphs down, and stays DPP."""
    rng = np.random.default_rng(2)
    for _ in range(5):
        n = int(rng.integers(2, 30))
        c = coefficients(COSTS, rng.uniform(0.005, 0.05, n), rng.lognormal(15, 2, n), periods=252)
        prev, weights = rng.normal(size=n) * 0.05, rng.normal(size=n) * 0.05
        w, w_prev = cp.Variable(n), cp.Parameter(n, value=prev)
        params = CostCoefficients(
            *(cp.Parameter(n, nonneg=True, value=v) for v in (c.spread, c.impact, c.borrow))
        )
        cons: list = [w == weights]
        expr = cost_with(cvxpy_ops(cons), w - w_prev, w, params)
        problem = cp.Problem(cp.Minimize(expr), cons)
        assert problem.is_dcp(dpp=True)
        problem.solve(solver="CLARABEL")
        assert problem.value == pytest.approx(trade_cost(weights - prev, weights, c), rel=1e-6)


def test_half_spread_without_impact_is_todays_flat_cost() -> None:
    rng = np.random.default_rng(1)
    assets, days = [f"S{i}" for i in range(6)], [date(2024, 1, 2) + timedelta(i) for i in range(4)]
    weights = rng.normal(size=(4, 6)) * 0.1
    weights[1, 2] = 0.0
    books = pl.DataFrame(
        {
            "date": [d for d in days for _ in assets],
            "asset": assets * 4,
            "weight": weights.ravel(),
            "side": ["long" if v > 0 else "short" for v in weights.ravel()],
            "label": [0.0] * 24,
        }
    ).filter(pl.col("weight") != 0)
    daily = pl.DataFrame(
        {
            "date": days,
            "long": 0.0,
            "short": 0.0,
            "long_short": 0.0,
            "benchmark": 0.0,
            "n_long": 0,
            "n_short": 0,
        }
    )
    flat = add_costs(daily, books, pl.Series(days), cost_bps=7.0, borrow_bps=40.0, periods=252)
    c = coefficients(
        CostSettings(cost_bps=7.0, impact_coef=0.0, borrow_bps=40.0),
        np.full(6, 0.02),
        np.full(6, 1e9),
    )
    prev = np.zeros(6)
    for i, w in enumerate(weights):
        assert trade_cost(w - prev, w, c) == pytest.approx(flat["cost"][i], rel=1e-14, abs=1e-18)
        prev = w


def test_alpha_is_ic_times_vol_times_zscore() -> None:
    scores = np.array([1.0, 2.0, np.nan, 4.0])
    vol = np.array([0.01, 0.02, 0.03, 0.04])
    z = (scores[[0, 1, 3]] - np.mean(scores[[0, 1, 3]])) / np.std(scores[[0, 1, 3]])
    out = alpha_from_scores(scores, 0.05, vol)
    np.testing.assert_allclose(out[[0, 1, 3]], 0.05 * vol[[0, 1, 3]] * z)
    assert out[2] == 0.0
    assert np.all(alpha_from_scores(np.ones(3), 0.05, 0.02) == 0.0)


def test_risk_aversion_from_target_vol_gives_that_vol_unconstrained() -> None:
    day = make_day(20, 9)
    lam = risk_aversion_for(day.alpha, day.risk, target_vol=0.1, periods=252)
    w = np.linalg.solve(day.risk.cov, day.alpha) / (2 * lam)  # argmax alpha'w - lam w'Sw
    assert np.sqrt(variance(w, day.risk) * 252) == pytest.approx(0.1, rel=1e-10)
