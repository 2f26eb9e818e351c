"""A cost-aware single-period optimiser: each day's book from alpha, risk and the last book.

Each day it solves, over weights ``w`` (fractions of capital) and factor exposures
``y = X'w``::

    maximise   alpha'w - (y'Fy + sum_i D_i w_i^2) * risk_aversion
                       - trade_aversion * cost(w - w_prev, w)
    subject to sum(w) = net_exposure,  sum |w| <= max_gross,  |w_i| <= max_weight,
               |y_beta| <= beta_bound,  |y_sector| <= sector_bound,
               |w_i - w_prev_i| * capital <= participation * adv_i,
               side risk (long, short) <= side_risk_budget (optional)

``cost`` is :mod:`alpha_core.portfolio.costs`' model, the same the P&L charges. Everything is
per bar (daily): ``alpha`` an expected return, ``F`` and ``D`` the risk model's covariances.
With ``risk_aversion`` unset it is derived each day from ``target_vol`` (Grinold & Kahn: the
aversion at which the unconstrained, cost-free optimum has that volatility).

The problem is written in factor form (n + k variables, never an n x n matrix); the trade's
absolute size and the short book are epigraph variables over ``w - w_prev`` and ``w`` (no
trade variable, no borrow term when borrow is free), which cuts the solver's work by a fifth.
It is compiled once
per universe as a DPP-compliant cvxpy problem whose parameters (alpha, w_prev, exposures, a
square root of F, sqrt(D), cost coefficients, the box from weight and participation limits)
are set each day, so a re-solve skips canonicalisation. The universe is a fixed asset index:
a name absent today is held at 0 by its box; a name never seen before grows the index and
rebuilds the problem (counted in :attr:`Optimizer.stats`). A solve that is not optimal
falls back to the previous book clipped into the box and scaled under the gross limit,
counted and reported in the :class:`Solution`'s ``status``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from alpha_core.base.settings import setting
from alpha_core.portfolio.costs import (
    PERIODS,
    CostCoefficients,
    CostSettings,
    coefficients,
    cost_with,
    cvxpy_ops,
)
from alpha_core.portfolio.costs import trade_cost as _trade_cost
from alpha_core.portfolio.limits import LimitSettings

if TYPE_CHECKING:
    import cvxpy as cp

SOLVERS = ("CLARABEL", "OSQP")
SCALE, WSCALE = 1e4, 100.0
"""The problem is solved in scaled units, the same argmax: the objective in basis points
(times 1e4) and the weights in percent (times 100), so the solvers' tolerances and the
power cones of the impact term are well scaled."""
_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {},
    "OSQP": {"eps_abs": 1e-6, "eps_rel": 1e-6, "max_iter": 20_000, "polishing": True},
}
BETA_FACTORS = ("beta",)  # factor names hedged by beta_bound (not "market": that is sum w)
SECTOR_PREFIXES = ("sector", "asset_class", "industry")  # name prefixes hedged by sector_bound


class RiskSnapshotLike(Protocol):
    """One date of a factor risk model (what the optimiser reads of it)."""

    @property
    def assets(self) -> tuple[str, ...]: ...
    @property
    def factors(self) -> tuple[str, ...]: ...
    @property
    def exposures(self) -> np.ndarray: ...
    @property
    def factor_cov(self) -> np.ndarray: ...
    @property
    def specific_var(self) -> np.ndarray: ...


ADVANCED = {"section": "Costs & limits", "advanced": True}
"""Where the optimiser's settings sit on the Train page."""


def _bound(default: float | None, label: str, help: str, hi: float = 10.0) -> Any:
    """An optional bound (> 0; empty, or 0 on the Train form, leaves it free)."""
    return setting(
        default, label=label, lo=0, hi=hi, closed="right", step=0.01, fmt="%.3f", help=help,
        **ADVANCED,
    )  # fmt: skip


@dataclass(frozen=True)
class OptimizerSettings(LimitSettings):
    """The optimiser's aversions and limits (weights are fractions of capital)."""

    risk_aversion: float | None = setting(
        None,
        label="Risk aversion",
        lo=0,
        hi=1e6,
        closed="right",
        help="multiplies the daily variance in the objective; empty: derived from target_vol",
        **ADVANCED,
    )
    target_vol: float = setting(
        0.10,
        label="Target volatility (annual)",
        lo=0,
        hi=5,
        closed="right",
        help="risk aversion at which the unconstrained, cost-free book has this volatility",
        section="Books",
    )
    trade_aversion: float = setting(
        1.0,
        label="Trade aversion",
        lo=0,
        hi=100,
        help="multiplies the cost; 1: costs as modelled",
        section="Books",
    )
    max_gross: float = _bound(2.0, "Max gross", "sum |w| <= max_gross")
    net_exposure: float = setting(
        0.0,
        label="Net exposure",
        lo=-10,
        hi=10,
        help="sum w = net (0: dollar-neutral)",
        **ADVANCED,
    )
    beta_bound: float | None = _bound(None, "Beta bound", "|beta exposure| <= bound; empty: free")
    sector_bound: float | None = _bound(
        None, "Sector bound", "|net exposure to each sector factor| <= bound; empty: free"
    )
    participation: float | None = _bound(
        None, "Participation", "|trade| x capital <= participation x ADV; empty: no cap", hi=1.0
    )
    side_risk_budget: float | None = _bound(
        None, "Risk budget per side", "annual volatility cap of the long and of the short book"
    )


@dataclass(frozen=True)
class Solution:
    """One day's book: weights aligned to the snapshot's assets and how it was obtained."""

    assets: tuple[str, ...]
    weights: np.ndarray
    status: str
    """The solver's status ("optimal"), or "fallback: <why>"."""
    solver: str
    risk_aversion: float
    alpha: float
    """alpha'w (per bar)."""
    variance: float
    """Ex-ante variance of the book (per bar)."""
    cost: float
    """Modelled cost of the trade (per bar, fraction of capital)."""
    n_participation_held: int
    """Names whose max-weight limit could not be reached within the participation cap."""

    @property
    def fallback(self) -> bool:
        return self.status.startswith("fallback")


@dataclass
class OptimizerStats:
    """What an :class:`Optimizer` did: solves, builds, fallbacks and statuses."""

    solves: int = 0
    builds: int = 0
    fallbacks: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


def alpha_from_scores(scores: np.ndarray, ic: float, vol: np.ndarray | float) -> np.ndarray:
    """Grinold-Kahn alpha: ``ic x vol x z`` with ``z`` the cross-sectional z-score of the
    scores (a missing score: alpha 0). ``ic`` comes from training or validation rows."""
    s = np.asarray(scores, dtype=float)
    ok = np.isfinite(s)
    z = np.zeros_like(s)
    if ok.sum() > 1 and np.std(s[ok]) > 0:
        z[ok] = (s[ok] - s[ok].mean()) / s[ok].std()
    out = ic * np.broadcast_to(np.asarray(vol, dtype=float), s.shape) * z
    return np.where(np.isfinite(out), out, 0.0)


def _inv_cov_times(risk: RiskSnapshotLike, v: np.ndarray) -> np.ndarray:
    """``(X F X' + D)^-1 v`` by Woodbury (F may be singular)."""
    x, f, d = risk.exposures, risk.factor_cov, risk.specific_var
    dv, dx = v / d, x / d[:, None]
    inner = np.eye(f.shape[0]) + f @ (x.T @ dx)
    return dv - dx @ np.linalg.solve(inner, f @ (x.T @ dv))


def risk_aversion_for(
    alpha: np.ndarray, risk: RiskSnapshotLike, target_vol: float, periods: int = PERIODS
) -> float:
    """``sqrt(alpha' S^-1 alpha) / (2 sigma)``: the unconstrained optimum of ``alpha'w -
    lambda w'Sw`` has volatility ``sigma = target_vol / sqrt(periods)`` (1 when alpha is 0)."""
    ir = float(np.sqrt(max(alpha @ _inv_cov_times(risk, alpha), 0.0)))
    return ir / (2 * target_vol / np.sqrt(periods)) if ir > 0 else 1.0


def hedged_factors(factors: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indices of the beta factors and of the sector factors among ``factors`` by name."""
    low = [f.lower() for f in factors]
    beta = [i for i, f in enumerate(low) if f in BETA_FACTORS]
    sector = [i for i, f in enumerate(low) if f.startswith(SECTOR_PREFIXES)]
    return beta, sector


def variance(w: np.ndarray, risk: RiskSnapshotLike) -> float:
    """Ex-ante variance ``w'(X F X' + D)w`` in factor form."""
    y = risk.exposures.T @ w
    return float(y @ risk.factor_cov @ y + np.sum(risk.specific_var * w * w))


def _sqrt_factor(cov: np.ndarray) -> np.ndarray:
    """``R`` with ``R'R = cov`` for a PSD ``cov`` (symmetric eigen-decomposition)."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))).T


class _Compiled:
    """The cvxpy problem over a fixed asset index and factor list, with its parameters."""

    def __init__(
        self, n: int, factors: Sequence[str], s: OptimizerSettings, impact: bool, borrow: bool
    ):
        import cvxpy as cp  # here, not at import: rank-book runs and the CLI never pay for it

        k = len(factors)
        self.n, self.k, self.impact = n, k, impact
        p = self.p = {
            "alpha": cp.Parameter(n),
            "prev": cp.Parameter(n),
            "lo": cp.Parameter(n),
            "hi": cp.Parameter(n),
            "x": cp.Parameter((n, k)),
            "root_f": cp.Parameter((k, k)),
            "root_d": cp.Parameter(n, nonneg=True),
            "spread": cp.Parameter(n, nonneg=True),
            "impact": cp.Parameter(n, nonneg=True),
            "borrow": cp.Parameter(n, nonneg=True),
        }
        w, y = cp.Variable(n), cp.Variable(k)
        self.w = w
        cons = [y == p["x"].T @ w, w >= p["lo"], w <= p["hi"]]
        cons += [cp.sum(w) == WSCALE * s.net_exposure, cp.norm1(w) <= WSCALE * s.max_gross]
        beta, sector = hedged_factors(factors)
        for idx, bound in ((beta, s.beta_bound), (sector, s.sector_bound)):
            if idx and bound is not None:
                cons += [y[idx] <= WSCALE * bound, y[idx] >= -WSCALE * bound]
        if s.side_risk_budget is not None:
            cons += self._side_budget(w)
        coefs = CostCoefficients(p["spread"], p["impact"], p["borrow"])  # parameters
        ops = cvxpy_ops(cons)  # epigraphs: the trade w - w_prev needs no variable of its own
        cost = cost_with(ops, w - p["prev"], w, coefs, impact=impact, borrow=borrow)
        risk = cp.sum_squares(p["root_f"] @ y) + cp.sum_squares(cp.multiply(p["root_d"], w))
        self.problem = cp.Problem(cp.Maximize(p["alpha"] @ w - risk - cost), cons)
        assert self.problem.is_dcp(dpp=True), "the optimiser's problem must be DPP"

    def _side_budget(self, w: cp.Variable) -> list[cp.Constraint]:
        """Long and short books ``l, s >= 0`` (``w = l - s``), each with volatility <= budget
        (annual; per bar in the constraint through the ``sigma`` parameter)."""
        import cvxpy as cp

        n, k, p = self.n, self.k, self.p
        p["root_f_raw"] = cp.Parameter((k, k))
        p["root_d_raw"] = cp.Parameter(n, nonneg=True)
        p["side_sigma"] = cp.Parameter(nonneg=True)
        long, short = cp.Variable(n, nonneg=True), cp.Variable(n, nonneg=True)
        cons: list[cp.Constraint] = [w == long - short]
        for side in (long, short):
            ys = cp.Variable(k)
            cons.append(ys == p["x"].T @ side)
            stack = cp.hstack([p["root_f_raw"] @ ys, cp.multiply(p["root_d_raw"], side)])
            cons.append(cp.norm(stack, 2) <= p["side_sigma"])
        return cons


class Optimizer:
    """Daily books by the cost-aware optimisation; one instance per run (it keeps the
    compiled problem of its universe). ``universe``: all assets it will see, if known, so
    the problem is compiled once; ``solver``: "CLARABEL" (any costs) or "OSQP" (a QP:
    ``impact_coef`` must be 0 and no side risk budget)."""

    def __init__(
        self,
        settings: OptimizerSettings | None = None,
        costs: CostSettings | None = None,
        periods: int = PERIODS,
        solver: str = "CLARABEL",
        universe: Sequence[str] = (),
    ):
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        self.settings = settings or OptimizerSettings()
        self.costs = costs or CostSettings()
        conic = self.costs.impact_coef > 0 or self.settings.side_risk_budget is not None
        if solver == "OSQP" and conic:
            raise ValueError("OSQP solves QPs only: set impact_coef 0 and no side risk budget")
        self.periods, self.solver = periods, solver
        self.index: dict[str, int] = {a: i for i, a in enumerate(dict.fromkeys(universe))}
        self.stats = OptimizerStats()
        self._compiled: _Compiled | None = None
        self._factors: tuple[str, ...] = ()

    def _problem(self, risk: RiskSnapshotLike) -> _Compiled:
        """The compiled problem covering today's assets and factors (rebuilt if not)."""
        new = [a for a in risk.assets if a not in self.index]
        for a in new:
            self.index[a] = len(self.index)
        if self._compiled is None or new or tuple(risk.factors) != self._factors:
            impact, borrow = self.costs.impact_coef > 0, self.costs.borrow_bps > 0
            n, factors = len(self.index), risk.factors
            self._compiled = _Compiled(n, factors, self.settings, impact, borrow)
            self._factors = tuple(risk.factors)
            self.stats.builds += 1
        return self._compiled

    def solve(
        self,
        risk: RiskSnapshotLike,
        alpha: np.ndarray,
        w_prev: np.ndarray,
        vol: np.ndarray,
        adv: np.ndarray,
    ) -> Solution:
        """Today's book. ``alpha``, ``w_prev`` (yesterday's weights; a name held but absent
        from today's universe is sold outside the problem), ``vol`` (daily volatility) and
        ``adv`` (average daily traded value) are aligned to ``risk.assets``."""
        c = self._problem(risk)
        pos = np.fromiter((self.index[a] for a in risk.assets), dtype=np.intp)
        alpha, w_prev = np.asarray(alpha, float), np.asarray(w_prev, float)
        lam = self._risk_aversion(alpha, risk)
        coefs = coefficients(self.costs, vol, adv, self.periods)
        lo, hi, held = self._box(w_prev, adv)
        self._set(c, pos, risk, lam, alpha, w_prev, coefs, lo, hi)
        status = self._run(c)
        if status == "optimal":
            w = np.asarray(c.w.value)[pos] / WSCALE
        else:
            w, status = self._fallback(w_prev, lo, hi), f"fallback: {status}"
            self.stats.fallbacks += 1
        self.stats.solves += 1
        self.stats.statuses[status] += 1
        return Solution(
            assets=tuple(risk.assets),
            weights=w,
            status=status,
            solver=self.solver,
            risk_aversion=lam,
            alpha=float(alpha @ w),
            variance=variance(w, risk),
            cost=_trade_cost(w - w_prev, w, coefs),
            n_participation_held=held,
        )

    def _risk_aversion(self, alpha: np.ndarray, risk: RiskSnapshotLike) -> float:
        if (lam := self.settings.risk_aversion) is not None:
            return lam
        return risk_aversion_for(alpha, risk, self.settings.target_vol, self.periods)

    def _box(self, w_prev: np.ndarray, adv: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Per-name ``[lo, hi]`` from the weight cap and the participation cap around
        ``w_prev``; where they do not meet, the participation cap wins (trade as far as it
        allows towards the weight cap) and the name is counted."""
        s = self.settings
        cap = s.max_weight if s.max_weight is not None else s.max_gross
        lo, hi = np.full(w_prev.shape, -cap), np.full(w_prev.shape, cap)
        if s.participation is None:
            return lo, hi, 0
        adv = np.where(np.isfinite(adv) & (adv > 0), adv, 0.0)
        move = s.participation * adv / self.costs.capital
        lo, hi = np.maximum(lo, w_prev - move), np.minimum(hi, w_prev + move)
        stuck = lo > hi
        nearest = np.where(w_prev > 0, w_prev - move, w_prev + move)
        lo, hi = np.where(stuck, nearest, lo), np.where(stuck, nearest, hi)
        return lo, hi, int(stuck.sum())

    def _set(self, c: _Compiled, pos: np.ndarray, risk: RiskSnapshotLike, lam: float, *a: Any):
        """Fill the parameters: absent names get zeros (and a box [0, 0])."""
        alpha, w_prev, coefs, lo, hi = a
        tau, p, ws = self.settings.trade_aversion * SCALE, c.p, WSCALE
        root_lam = np.sqrt(lam * SCALE) / ws

        def full(values: np.ndarray, fill: float = 0.0) -> np.ndarray:
            out = np.full((c.n, *np.shape(values)[1:]), fill)
            out[pos] = values
            return out

        root_f, root_d = _sqrt_factor(risk.factor_cov), np.sqrt(risk.specific_var)
        values = {
            "alpha": full(SCALE / ws * alpha),
            "prev": full(ws * w_prev),
            "lo": full(ws * lo),
            "hi": full(ws * hi),
            "x": full(risk.exposures),
            "root_f": root_lam * root_f,
            "root_d": full(root_lam * root_d),
            "spread": full(tau / ws * coefs.spread),
            "impact": full(tau / ws**1.5 * coefs.impact),
            "borrow": full(tau / ws * coefs.borrow),
        }
        if "side_sigma" in p:
            budget = self.settings.side_risk_budget or 0.0
            values |= {"root_f_raw": root_f, "root_d_raw": full(root_d)}
            values["side_sigma"] = ws * budget / np.sqrt(self.periods)
        for name, value in values.items():
            p[name].value = value

    def _run(self, c: _Compiled) -> str:
        """Solve; the solver's status, or the error's class name."""
        import cvxpy as cp

        try:
            c.problem.solve(
                solver=self.solver, warm_start=False, **_SOLVER_OPTIONS.get(self.solver, {})
            )
        except (cp.error.SolverError, cp.error.DCPError, ValueError) as err:
            return f"solver error {type(err).__name__}: {err}"[:200]
        return str(c.problem.status)

    def _fallback(self, w_prev: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The previous book clipped into the box and scaled under the gross limit."""
        w = np.clip(w_prev, lo, hi)
        gross = float(np.abs(w).sum())
        limit = self.settings.max_gross
        return w * (limit / gross) if gross > limit else w
