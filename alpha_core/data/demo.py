"""The built-in simulated demo universe: 89 fictional assets, 2000-01-03 to 2025-03-31.

Everything here is **simulated** (see :data:`DEMO_SOURCE_LABEL`); no ticker, price or volume is
real market data. The generator produces a daily OHLCV panel with the stylized facts of real
markets (fat tails, volatility clustering, factor structure, volume that rises with the size of
the move, overnight gaps, staggered listings and a few delistings) and plants a *weak*, documented
predictive structure in the next-day return. Because the generator knows that structure, it also
returns an ``oracle``: its own conditional expectation, at close ``t``, of the simple return from
close ``t`` to close ``t+1``. See ``docs/demo_universe.md`` for the full description.

Simulation, per asset ``i`` and business day ``t`` (vectorised across assets, looped over days)::

    R[t+1] = close[t+1] / close[t] - 1 = mu[t] + eps[t+1]
    eps[t+1] = sigma[t+1] * z[t+1]    # z[t+1]: new, symmetric, mean 0, independent of sigma[t+1]
    mu[t] = clip(drift[class] + season[class, month(t)]
                 + A_REV * ln_ret_1[t] * ramp(vol_z_20[t])
                 + A_MOM * mom_5[t]
                 + A_MR * price_sma20_dev[t], -MU_CLIP, MU_CLIP)

so ``E[R[t+1] | close t] = mu[t]`` exactly (the noise is clipped symmetrically, which keeps its
mean at zero). The features are the engine's, computed on the asset's own listed bars; a term
whose window is not yet full after a listing is left out, so ``mu`` never uses unlisted history.

The universe continues past DEMO_END on request (``generate_demo(end=...)``, source
``demo:YYYY-MM-DD``): the original bars are unchanged and each later day draws from its own
seeded stream, optionally with a planted regime shift (see :class:`_Draws`).

The module is pure numpy/scipy/polars; results are cached as Parquet by :func:`load_demo`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from alpha_core.base.storage import write_atomic

DEMO_SOURCE_LABEL = "simulated"
"""Shown wherever the demo universe is displayed: it is not real market data."""

DEMO_SEED = 7
"""Default seed of the demo universe."""

GENERATOR_VERSION = 1
"""Bumped whenever the generator's output changes; part of the cache file names."""

DEMO_START = date(2000, 1, 3)
DEMO_END = date(2025, 3, 31)
CONTINUATION_STREAM = 1
"""Second seed word of the random stream that continues the universe past DEMO_END."""
SHIFT_VOL = 2.0
"""A planted regime shift multiplies every asset's volatility by this from its date on."""
SHIFT_LOG_VOLUME = 1.0
"""... and adds this to every asset's log volume (volume about 2.7 times higher)."""

DEMO_PANEL_COLUMNS = (
    "date", "asset", "open", "high", "low", "close", "volume", "sector", "asset_class",
)  # fmt: skip
"""Columns of the cached demo panel: the canonical OHLCV columns plus both metadata columns."""
ORACLE_COLUMNS = ("date", "asset", "expected_return")

# ----------------------------------------------------------------------------- planted structure
A_REV = -0.27
"""Reversal after volume shocks: coefficient on ``ln_ret_1 * ramp(vol_z_20)``."""
A_MOM = 0.006
"""Short-term momentum: coefficient on ``mom_5``."""
A_MR = -0.003
"""Mean reversion: coefficient on ``price_sma20_dev``."""
VOLZ_LO, VOLZ_HI = 1.5, 3.0
"""``ramp(v) = clip((v - VOLZ_LO) / (VOLZ_HI - VOLZ_LO), 0, 1)``."""
MU_CLIP = 0.05
"""``mu`` is clipped to +-MU_CLIP (binds on about one row in 40,000: huge moves on huge volume)."""
EPS_CLIP = 0.45
"""Overnight and intraday noise are each clipped (symmetrically) to +-EPS_CLIP."""

GARCH_ALPHA, GARCH_BETA = 0.05, 0.935
"""GARCH(1,1) coefficients of the standardised variance (unit long-run variance)."""
FACTOR_DF = 5.0
"""Degrees of freedom of the Student-t factor shocks."""
IDIO_DF = 4.5
"""Degrees of freedom of the Student-t idiosyncratic shocks."""

ASSET_CLASSES = ("equity", "equity_index", "bond", "commodity", "currency")

_BP = 1e-4
DRIFT_BP: dict[str, float] = {
    "equity": 1.5,
    "equity_index": 1.25,
    "bond": 0.5,
    "commodity": 0.5,
    "currency": 0.0,
}
"""Constant expected daily return by asset class, in basis points."""

SEASON_BP: dict[str, tuple[float, ...]] = {
    #               Jan   Feb  Mar  Apr  May  Jun  Jul  Aug  Sep  Oct  Nov  Dec
    "equity":       (2.0, 0.5, 0.5, 1.5, -0.5, -1.0, 1.0, -1.0, -2.0, 0.0, 1.5, 2.0),
    "equity_index": (1.5, 0.5, 0.5, 1.5, -0.5, -1.0, 1.0, -1.0, -2.0, 0.0, 1.5, 1.5),
    "bond":         (-0.5, 0.5, 1.0, -0.5, 1.0, 0.5, -0.5, 1.0, 1.0, -0.5, -1.0, 0.0),
    "commodity":    (1.0, 1.5, 0.5, -1.0, -1.5, 0.5, 1.0, -0.5, 0.5, -1.0, -1.0, 0.0),
    "currency":     (-0.5, 0.0, 0.5, 0.5, -0.5, 0.0, 0.0, 0.5, -0.5, 0.5, 0.0, -0.5),
}  # fmt: skip
"""Seasonal expected daily return by asset class and calendar month of the decision date, in bp."""


# ----------------------------------------------------------------------------------- the universe
@dataclass(frozen=True)
class _ClassParams:
    ann_vol: tuple[float, float]  # range of annualised volatility across the class's assets
    overnight_share: float  # share of the noise variance that falls overnight (close -> open)
    beta_mkt: float  # loading of the standardised shock on the market factor
    beta_cls: float  # ... on the asset-class factor
    beta_sec: float  # ... on the sector / sub-group factor
    price: tuple[float, float]  # range of listing prices
    log_volume: tuple[float, float]  # range of mean log volume at listing
    volume_growth: float  # mean log-volume growth per year


_CLASS_PARAMS: dict[str, _ClassParams] = {
    "equity": _ClassParams((0.22, 0.45), 0.25, 0.50, 0.25, 0.40, (8.0, 220.0), (13.0, 16.0), 0.04),
    "equity_index": _ClassParams(
        (0.15, 0.24), 0.30, 0.85, 0.30, 0.20, (40.0, 160.0), (14.5, 17.0), 0.05
    ),
    "bond": _ClassParams((0.03, 0.15), 0.30, -0.15, 0.80, 0.35, (50.0, 120.0), (12.0, 14.5), 0.05),
    "commodity": _ClassParams(
        (0.18, 0.38), 0.35, 0.20, 0.45, 0.55, (10.0, 140.0), (12.5, 15.0), 0.03
    ),
    "currency": _ClassParams((0.07, 0.12), 0.45, 0.10, 0.70, 0.00, (0.6, 1.6), (11.0, 13.0), 0.02),
}

# (ticker, sector, asset_class, listed, delisted); listed None = from DEMO_START. All fictional.
_UNIVERSE: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    # Technology
    ("QNTX", "Technology", "equity", None, None),
    ("VRDA", "Technology", "equity", "2001-05-16", None),
    ("ZYLO", "Technology", "equity", None, "2002-10-09"),
    ("PXLR", "Technology", "equity", "2006-08-21", None),
    ("CDNQ", "Technology", "equity", "2009-03-16", None),
    ("LUMX", "Technology", "equity", "2012-06-29", None),
    ("SYNQ", "Technology", "equity", "2014-05-19", None),
    ("BTRX", "Technology", "equity", "2015-11-09", None),
    ("KVNT", "Technology", "equity", "2017-04-24", None),
    # Financials
    ("HRBK", "Financials", "equity", None, None),
    ("CSTQ", "Financials", "equity", "2002-03-13", None),
    ("FNQR", "Financials", "equity", None, "2008-09-15"),
    ("MRDL", "Financials", "equity", "2005-06-13", None),
    ("TRSV", "Financials", "equity", "2008-10-03", None),
    ("BNKZ", "Financials", "equity", "2011-12-09", None),
    ("LDGR", "Financials", "equity", "2014-02-17", None),
    ("AVLF", "Financials", "equity", "2016-09-19", None),
    # Healthcare
    ("MDVX", "Healthcare", "equity", None, None),
    ("GNMQ", "Healthcare", "equity", "2003-02-05", None),
    ("CRLX", "Healthcare", "equity", "2004-04-16", None),
    ("THRP", "Healthcare", "equity", "2007-01-29", None),
    ("BIOQ", "Healthcare", "equity", "2010-05-06", None),
    ("NRVX", "Healthcare", "equity", "2013-07-15", None),
    ("PLSX", "Healthcare", "equity", "2015-03-20", None),
    ("VTLK", "Healthcare", "equity", "2016-12-02", None),
    # Energy
    ("PTRQ", "Energy", "equity", None, None),
    ("DRLX", "Energy", "equity", "2002-11-20", None),
    ("OLVN", "Energy", "equity", "2005-02-25", "2016-02-11"),
    ("GSFX", "Energy", "equity", "2008-06-09", None),
    ("RFNQ", "Energy", "equity", "2011-09-26", None),
    ("BRLZ", "Energy", "equity", "2014-08-08", None),
    ("SHLQ", "Energy", "equity", "2016-03-14", None),
    # Industrials
    ("FRGX", "Industrials", "equity", None, None),
    ("MTLQ", "Industrials", "equity", "2001-11-07", None),
    ("RVTX", "Industrials", "equity", "2004-09-20", None),
    ("CNVY", "Industrials", "equity", "2007-11-02", None),
    ("AXLR", "Industrials", "equity", "2010-02-22", None),
    ("GRDQ", "Industrials", "equity", "2013-04-08", None),
    ("TRBX", "Industrials", "equity", "2015-06-26", None),
    ("HVYQ", "Industrials", "equity", "2017-01-16", None),
    # Consumer
    ("BRNQ", "Consumer", "equity", None, None),
    ("SHPX", "Consumer", "equity", "2004-06-09", None),
    ("GRCX", "Consumer", "equity", "2005-10-10", None),
    ("FDQM", "Consumer", "equity", "2008-03-31", None),
    ("LXRY", "Consumer", "equity", "2011-05-13", None),
    ("TOYQ", "Consumer", "equity", "2013-10-21", "2020-06-30"),
    ("CFRX", "Consumer", "equity", "2015-09-11", None),
    ("APRL", "Consumer", "equity", "2017-06-05", None),
    # Utilities
    ("PWRQ", "Utilities", "equity", None, None),
    ("GRDU", "Utilities", "equity", "2003-08-20", None),
    ("HYDX", "Utilities", "equity", "2006-04-14", None),
    ("WTRQ", "Utilities", "equity", "2009-07-27", None),
    ("VLTQ", "Utilities", "equity", "2012-10-29", None),
    ("SLRQ", "Utilities", "equity", "2014-11-14", None),
    ("NRGX", "Utilities", "equity", "2016-06-20", None),
    # Equity index funds
    ("IDXL", "Equity index", "equity_index", None, None),
    ("IDXM", "Equity index", "equity_index", "2000-09-18", None),
    ("IDXS", "Equity index", "equity_index", "2000-05-24", None),
    ("IDXT", "Equity index", "equity_index", "2001-03-12", None),
    ("IDXE", "Equity index", "equity_index", "2001-08-20", None),
    ("IDXJ", "Equity index", "equity_index", "2002-06-05", None),
    ("IDXA", "Equity index", "equity_index", "2003-04-09", None),
    ("IDXG", "Equity index", "equity_index", "2004-10-13", None),
    # Bonds
    ("GVTS", "Government bonds", "bond", "2002-07-26", None),
    ("GVTM", "Government bonds", "bond", "2002-07-26", None),
    ("GVTL", "Government bonds", "bond", "2002-07-26", None),
    ("GVTI", "Government bonds", "bond", "2003-12-05", None),
    ("GVTX", "Government bonds", "bond", "2009-01-22", None),
    ("CRIG", "Credit", "bond", "2002-07-26", None),
    ("CRHY", "Credit", "bond", "2007-04-11", None),
    ("CRMU", "Credit", "bond", "2007-09-07", None),
    ("CREM", "Credit", "bond", "2007-12-19", None),
    ("CRST", "Credit", "bond", "2008-01-10", None),
    # Commodities
    ("CRDQ", "Energy commodities", "commodity", "2006-04-10", None),
    ("NGSQ", "Energy commodities", "commodity", "2007-04-18", None),
    ("HTOL", "Energy commodities", "commodity", "2008-01-24", None),
    ("AURM", "Metals", "commodity", "2004-11-18", None),
    ("ARGN", "Metals", "commodity", "2006-04-28", None),
    ("CUPR", "Metals", "commodity", "2010-11-15", None),
    ("WHTQ", "Agriculture", "commodity", "2008-01-07", None),
    ("CORQ", "Agriculture", "commodity", "2010-06-09", None),
    ("SOYQ", "Agriculture", "commodity", "2011-09-19", None),
    # Currencies
    ("EURX", "Currencies", "currency", "2005-12-12", None),
    ("GBPX", "Currencies", "currency", "2006-06-26", None),
    ("CHFX", "Currencies", "currency", "2006-06-26", None),
    ("AUDX", "Currencies", "currency", "2006-06-26", None),
    ("CADX", "Currencies", "currency", "2006-06-26", None),
    ("JPYX", "Currencies", "currency", "2007-02-13", None),
    ("NZDX", "Currencies", "currency", "2012-03-07", None),
)

_UNIVERSE_SEED = 20_000_103
"""Fixed seed for per-asset parameters (vol level, price, volume level): the same for all seeds."""

# Market-wide volatility episodes: (start, end, log-vol bump at peak).
_STRESS: tuple[tuple[str, str, float], ...] = (
    ("2000-04-03", "2002-10-31", 0.25),
    ("2008-09-08", "2009-06-30", 0.75),
    ("2011-08-01", "2011-11-30", 0.35),
    ("2020-02-24", "2020-06-30", 0.85),
    ("2022-02-14", "2022-10-31", 0.25),
)


@dataclass(frozen=True)
class DemoUniverse:
    """The simulated panel and the generator's own expected next-day return for every row."""

    panel: pl.DataFrame
    """date, asset, open, high, low, close, volume, sector, asset_class; sorted by asset, date."""
    oracle: pl.DataFrame
    """date, asset, expected_return: E[close t+1 / close t - 1 | information at close t]."""


def demo_assets() -> pl.DataFrame:
    """The demo universe's (fictional) assets: asset, sector, asset_class, listed, delisted.

    ``listed`` is the first bar, ``delisted`` the last bar (null while still listed at DEMO_END).
    """
    dates = _business_days()
    first, last = _listing_bars(dates)
    return pl.DataFrame(
        {
            "asset": [u[0] for u in _UNIVERSE],
            "sector": [u[1] for u in _UNIVERSE],
            "asset_class": [u[2] for u in _UNIVERSE],
            "listed": pl.Series(dates[first], dtype=pl.Date),
            "delisted": pl.Series(
                [
                    None if u[4] is None else dates[i].astype(date)
                    for u, i in zip(_UNIVERSE, last, strict=True)
                ],
                dtype=pl.Date,
            ),
        }
    ).sort("asset")


def _business_days(end: date = DEMO_END) -> np.ndarray:
    """Mon-Fri from DEMO_START to ``end`` inclusive (no holiday calendar), datetime64[D]."""
    days = np.arange(
        np.datetime64(DEMO_START.isoformat()),
        np.datetime64(end.isoformat()) + np.timedelta64(1, "D"),
        dtype="datetime64[D]",
    )
    return days[np.is_busday(days)]


def _listing_bars(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``dates`` of each asset's first and last bar (inclusive), in universe order."""
    first = [
        np.searchsorted(dates, np.datetime64(u[3] or DEMO_START.isoformat())) for u in _UNIVERSE
    ]
    last = [
        len(dates) - 1 if u[4] is None else np.searchsorted(dates, np.datetime64(u[4]), "right") - 1
        for u in _UNIVERSE
    ]
    return np.array(first), np.array(last)


def _unit_t(rng: np.random.Generator, df: float, size: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, size=size) * np.sqrt((df - 2.0) / df)


def _ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    """x[t] = phi * x[t-1] + shocks[t] along axis 0, starting from x[-1] = 0."""
    from scipy.signal import lfilter  # on first use: it costs ~0.7 s to import, every CLI call

    return lfilter([1.0], [1.0, -phi], shocks, axis=0)


def _rolling_mean_std(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and sample std (ddof=1) along axis 0; the first window-1 rows are NaN."""
    mean = np.full_like(x, np.nan)
    std = np.full_like(x, np.nan)
    win = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)
    mean[window - 1 :] = win.mean(axis=-1)
    std[window - 1 :] = win.std(axis=-1, ddof=1)
    return mean, std


@dataclass(frozen=True)
class _Assets:
    """Per-asset constants in universe order; the same for every seed."""

    tickers: np.ndarray
    sectors: np.ndarray
    classes: np.ndarray
    cls_idx: np.ndarray
    sec_idx: np.ndarray
    first: np.ndarray
    last: np.ndarray
    sigma_long: np.ndarray  # long-run daily volatility
    price0: np.ndarray  # close on the listing day
    lv0: np.ndarray  # mean log volume at listing
    lv_growth: np.ndarray  # log-volume growth per year
    overnight: np.ndarray  # overnight share of the noise variance
    b_mkt: np.ndarray
    b_cls: np.ndarray
    b_sec: np.ndarray


def _assets(dates: np.ndarray) -> _Assets:
    params = [_CLASS_PARAMS[u[2]] for u in _UNIVERSE]
    sectors = [u[1] for u in _UNIVERSE]
    sector_names = sorted(set(sectors))
    first, last = _listing_bars(dates)
    u = np.random.default_rng(_UNIVERSE_SEED).uniform(size=(4, len(_UNIVERSE)))

    def spread(lo_hi: list[tuple[float, float]], x: np.ndarray) -> np.ndarray:
        lo, hi = np.array(lo_hi).T
        return lo + (hi - lo) * x

    return _Assets(
        tickers=np.array([u[0] for u in _UNIVERSE]),
        sectors=np.array(sectors),
        classes=np.array([u[2] for u in _UNIVERSE]),
        cls_idx=np.array([ASSET_CLASSES.index(u[2]) for u in _UNIVERSE]),
        sec_idx=np.array([sector_names.index(s) for s in sectors]),
        first=first,
        last=last,
        sigma_long=spread([p.ann_vol for p in params], u[0]) / np.sqrt(252.0),
        price0=np.exp(spread([(np.log(p.price[0]), np.log(p.price[1])) for p in params], u[1])),
        lv0=spread([p.log_volume for p in params], u[2]),
        lv_growth=np.array([p.volume_growth for p in params]) * (0.5 + u[3]),
        overnight=np.array([p.overnight_share for p in params]),
        b_mkt=np.array([p.beta_mkt for p in params]),
        b_cls=np.array([p.beta_cls for p in params]),
        b_sec=np.array([p.beta_sec for p in params]),
    )


def _factor_shocks(rng: np.random.Generator, n_days: int, a: _Assets) -> np.ndarray:
    """Unit-variance, symmetric shocks with a market + asset-class + sector factor structure."""
    f_mkt = _unit_t(rng, FACTOR_DF, (n_days, 1))
    f_cls = _unit_t(rng, FACTOR_DF, (n_days, len(ASSET_CLASSES)))
    f_sec = _unit_t(rng, FACTOR_DF, (n_days, int(a.sec_idx.max()) + 1))
    idio = _unit_t(rng, IDIO_DF, (n_days, len(a.tickers)))
    b_idio = np.sqrt(1.0 - a.b_mkt**2 - a.b_cls**2 - a.b_sec**2)
    return (
        a.b_mkt * f_mkt + a.b_cls * f_cls[:, a.cls_idx] + a.b_sec * f_sec[:, a.sec_idx]
    ) + b_idio * idio


def _market_log_vol(shocks: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Market-wide log-volatility multiplier: a slow AR(1) plus decaying stress episodes."""
    lv = _ar1(shocks, 0.995)
    for start, end, bump in _STRESS:
        s = np.searchsorted(dates, np.datetime64(start))
        e = np.searchsorted(dates, np.datetime64(end))
        lv[s:e] += bump * np.exp(-np.arange(e - s) / max(1.0, (e - s) / 3.0))
    return lv - 0.1


def _garch_variance(z: np.ndarray) -> np.ndarray:
    """GARCH(1,1) variance in standardised units (long-run 1); row t uses shocks up to t-1."""
    h = np.empty_like(z)
    h[0] = 1.0
    omega = 1.0 - GARCH_ALPHA - GARCH_BETA
    for t in range(1, len(z)):
        h[t] = omega + GARCH_ALPHA * z[t - 1] ** 2 + GARCH_BETA * h[t - 1]
    return h


def _simulate_days(
    eps: np.ndarray,
    base_mu: np.ndarray,
    rev_weight: np.ndarray,
    has_mom5: np.ndarray,
    has_sma20: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The day loop. Returns (close, starting at 1.0; mu), each of shape (days, assets).

    ``close[t] / close[t-1] - 1 = mu[t-1] + eps[t]``; ``mu[t]`` uses only closes up to ``t``
    and the (precomputed, noise-driven) volume z-score at ``t``.
    """
    n_days = len(eps)
    close = np.empty_like(eps)
    mu = np.empty_like(eps)
    close[0] = 1.0
    mu[0] = base_mu[0]
    for t in range(1, n_days):
        r = mu[t - 1] + eps[t]
        close[t] = close[t - 1] * (1.0 + r)
        m = base_mu[t] + A_REV * np.log1p(r) * rev_weight[t]
        if t >= 5:
            m += A_MOM * (close[t] / close[t - 5] - 1.0) * has_mom5[t]
        if t >= 19:
            m += A_MR * (close[t] / close[t - 19 : t + 1].mean(axis=0) - 1.0) * has_sma20[t]
        mu[t] = np.clip(m, -MU_CLIP, MU_CLIP)
    return close, mu


class _Draws:
    """Random draws by day: the seed's generator for the days up to DEMO_END; after it, one
    generator per continued day and draw, seeded ``[seed, CONTINUATION_STREAM, day, draw]``.

    Every draw of the original days is the same, in the same order, whatever the end date;
    a continued day's draws do not depend on the end date either; and the simulation is
    causal. So the universe continued to any date starts with the universe continued to any
    earlier date, bar for bar.
    """

    def __init__(self, seed: int, n_base: int, n_days: int) -> None:
        self.seed = seed
        self.base = np.random.default_rng(seed)
        self.n_base, self.n_days = n_base, n_days
        self.calls = 0

    def __call__(self, draw: Callable[[np.random.Generator, int], np.ndarray]) -> np.ndarray:
        out = draw(self.base, self.n_base)
        self.calls += 1
        if self.n_days == self.n_base:
            return out
        more = [
            draw(np.random.default_rng([self.seed, CONTINUATION_STREAM, day, self.calls]), 1)
            for day in range(self.n_base, self.n_days)
        ]
        return np.concatenate([out, *more])


def generate_demo(
    seed: int = DEMO_SEED, end: date = DEMO_END, shift: date | None = None
) -> DemoUniverse:
    """Simulate the demo universe; deterministic in ``seed`` (about half a second).

    ``end`` after DEMO_END continues the universe: the bars up to DEMO_END are unchanged and
    the later days come from the same generator fed by a second random stream (see
    :class:`_Draws`). ``shift`` (after DEMO_END) plants a regime shift from that date on:
    volatility times :data:`SHIFT_VOL` and log volume up by :data:`SHIFT_LOG_VOLUME`.
    """
    if end < DEMO_END:
        raise ValueError(f"the demo universe ends no earlier than {DEMO_END}, got {end}")
    if shift is not None and not DEMO_END < shift <= end:
        raise ValueError(f"a regime shift must fall after {DEMO_END} and by {end}, got {shift}")
    dates = _business_days(end)
    a = _assets(dates)
    n_days, n_assets = len(dates), len(a.tickers)
    draws = _Draws(seed, len(_business_days()), n_days)
    shifted = dates >= np.datetime64(shift.isoformat()) if shift else np.zeros(n_days, dtype=bool)

    # --- noise: factor-structured shocks, split into overnight and intraday parts
    z_on = draws(lambda g, n: _factor_shocks(g, n, a))
    z_id = draws(lambda g, n: _factor_shocks(g, n, a))
    z = np.sqrt(a.overnight) * z_on + np.sqrt(1.0 - a.overnight) * z_id
    lv_mkt = _market_log_vol(draws(lambda g, n: g.normal(0.0, 0.02, n)), dates)
    sigma = a.sigma_long * np.exp(lv_mkt)[:, None] * np.sqrt(_garch_variance(z))
    if shifted.any():
        sigma[shifted] *= SHIFT_VOL
    eps_on = np.clip(sigma * np.sqrt(a.overnight) * z_on, -EPS_CLIP, EPS_CLIP)
    eps_id = np.clip(sigma * np.sqrt(1.0 - a.overnight) * z_id, -EPS_CLIP, EPS_CLIP)

    # --- volume: a persistent level, market stress, rare spikes and the size of the day's shock
    years = (dates - dates[0]).astype(np.int64) / 365.25
    spikes = draws(
        lambda g, n: (g.uniform(size=(n, n_assets)) < 0.01) * g.uniform(0.5, 1.5, (n, n_assets))
    )
    persistent = draws(lambda g, n: g.normal(0.0, 0.04, (n, n_assets)))
    daily = draws(lambda g, n: g.normal(0.0, 0.25, (n, n_assets)))
    log_volume = (
        a.lv0
        + a.lv_growth * (years[:, None] - years[a.first])
        + _ar1(persistent, 0.97)
        + 0.35 * (np.abs(z) - 0.8)
        + 0.5 * lv_mkt[:, None]
        + spikes
        + daily
    )
    if shifted.any():
        log_volume[shifted] += SHIFT_LOG_VOLUME
    volume = np.round(np.exp(log_volume))

    # --- inputs of the planted structure that do not depend on the price path
    bar = np.arange(n_days)[:, None] - a.first  # the asset's own bar number (0 = listing day)
    vmean, vstd = _rolling_mean_std(volume, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        vol_z = np.nan_to_num((volume - vmean) / vstd)
    rev_weight = np.where(bar >= 19, np.clip((vol_z - VOLZ_LO) / (VOLZ_HI - VOLZ_LO), 0, 1), 0.0)
    months = dates.astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    season = np.array([SEASON_BP[c] for c in ASSET_CLASSES])[a.cls_idx]  # (asset, month)
    drift = np.array([DRIFT_BP[c] for c in ASSET_CLASSES])[a.cls_idx]
    base_mu = (drift + season[:, months].T) * _BP

    close, mu = _simulate_days(
        eps_on + eps_id, base_mu, rev_weight, (bar >= 5).astype(float), (bar >= 19).astype(float)
    )

    # --- prices: list at the listing price (ratios unchanged), then open, high, low
    close *= a.price0 / close[a.first, np.arange(n_assets)]
    prev_close = np.vstack([close[:1], close[:-1]])
    open_ = prev_close * (1.0 + eps_on)
    sigma_id = sigma * np.sqrt(1.0 - a.overnight)
    up = draws(lambda g, n: g.exponential(0.5, (n, n_assets)))
    down = draws(lambda g, n: g.exponential(0.5, (n, n_assets)))
    high = np.maximum(open_, close) * np.exp(sigma_id * up)
    low = np.minimum(open_, close) * np.exp(-sigma_id * down)

    # --- assemble the listed rows, sorted by asset then date
    order = np.argsort(a.tickers, kind="stable")
    days = np.arange(n_days)
    live = ((days[:, None] >= a.first) & (days[:, None] <= a.last)).T[order]  # (asset, day)
    counts = live.sum(axis=1)

    def col(x: np.ndarray) -> np.ndarray:
        return x.T[order][live]

    def labels(x: np.ndarray) -> pl.Series:
        return pl.Series(np.repeat(x[order], counts), dtype=pl.Utf8)

    panel = pl.DataFrame(
        {
            "date": pl.Series(dates[np.broadcast_to(days, live.shape)[live]], dtype=pl.Date),
            "asset": labels(a.tickers),
            "open": col(open_),
            "high": col(high),
            "low": col(low),
            "close": col(close),
            "volume": col(volume),
            "sector": labels(a.sectors),
            "asset_class": labels(a.classes),
        }
    )
    oracle = panel.select("date", "asset", expected_return=pl.Series(col(mu), dtype=pl.Float64))
    return DemoUniverse(panel=panel, oracle=oracle)


# ------------------------------------------------------------------------------------- the cache
def default_cache_dir() -> Path:
    """``$ALPHA_LAB_DATA_DIR`` if set, else ``./data/cache``."""
    env = os.environ.get("ALPHA_LAB_DATA_DIR")
    return Path(env) if env else Path.cwd() / "data" / "cache"


def demo_cache_paths(
    seed: int = DEMO_SEED,
    cache_dir: Path | None = None,
    end: date = DEMO_END,
    shift: date | None = None,
) -> tuple[Path, Path]:
    """(panel, oracle) Parquet paths of the cached demo universe for ``seed`` (and a
    continuation's end and shift dates)."""
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stem = f"demo_v{GENERATOR_VERSION}_seed{seed}"
    if end != DEMO_END:
        stem += f"_to{end:%Y%m%d}"
    if shift is not None:
        stem += f"_shift{shift:%Y%m%d}"
    return base / f"{stem}_panel.parquet", base / f"{stem}_oracle.parquet"


def _read_cached(panel_path: Path, oracle_path: Path) -> DemoUniverse | None:
    if not (panel_path.exists() and oracle_path.exists()):
        return None
    try:
        panel = pl.read_parquet(panel_path)
        oracle = pl.read_parquet(oracle_path)
    except Exception:  # unreadable cache: regenerate
        return None
    if tuple(panel.columns) != DEMO_PANEL_COLUMNS or tuple(oracle.columns) != ORACLE_COLUMNS:
        return None
    if panel.height != oracle.height:
        return None
    return DemoUniverse(panel=panel, oracle=oracle)


def load_demo(
    seed: int = DEMO_SEED,
    cache_dir: Path | None = None,
    end: date = DEMO_END,
    shift: date | None = None,
) -> DemoUniverse:
    """The demo universe for ``seed``, from the Parquet cache, generating (and caching) if needed.

    ``end`` and ``shift``: a continuation past DEMO_END (see :func:`generate_demo`).
    Files are written to a temporary name and moved into place, so a crash never leaves a
    half-written cache file behind; an unreadable or stale-shaped cache is regenerated.
    """
    panel_path, oracle_path = demo_cache_paths(seed, cache_dir, end, shift)
    cached = _read_cached(panel_path, oracle_path)
    if cached is not None:
        return cached
    continued = end != DEMO_END or shift is not None
    universe = generate_demo(seed, end, shift) if continued else generate_demo(seed)
    write_atomic(panel_path, universe.panel.write_parquet)
    write_atomic(oracle_path, universe.oracle.write_parquet)
    return universe


# -------------------------------------------------------------------------- continued sources
DEMO_PREFIX = "demo:"


def parse_demo_source(source: str) -> tuple[date, date | None] | None:
    """``(end, shift)`` of a continued demo source, or None when ``source`` is not one.

    Spellings: ``demo:2025-06-30`` (continued to that date) and
    ``demo:2025-06-30:shift=2025-05-01`` (with a planted regime shift from that date).
    """
    if not source.startswith(DEMO_PREFIX):
        return None
    end_text, _, rest = source[len(DEMO_PREFIX) :].partition(":")
    try:
        end = date.fromisoformat(end_text)
        shift = None
        if rest:
            key, _, value = rest.partition("=")
            if key != "shift":
                raise ValueError(rest)
            shift = date.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"not a demo source: {source!r} (expected demo:YYYY-MM-DD[:shift=YYYY-MM-DD])"
        ) from None
    if end < DEMO_END:
        raise ValueError(f"{source!r}: the demo universe ends no earlier than {DEMO_END}")
    if shift is not None and not DEMO_END < shift <= end:
        raise ValueError(f"{source!r}: the shift must fall after {DEMO_END} and by {end}")
    return end, shift
