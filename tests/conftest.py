"""Shared fixtures: small deterministic panels built in code, and the real-data path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import alpha_core  # noqa: F401  (the engine sets OMP_WAIT_POLICY before any test loads LightGBM)

SP500 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sp500_5yr.parquet"
needs_sp500 = pytest.mark.skipif(
    not SP500.exists(), reason=f"real data not available at {SP500} (../shared is absent)"
)


def business_days(start: dt.date, n: int) -> list[dt.date]:
    days: list[dt.date] = []
    day = start
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def split_config(dates, train_days: int, gap: int = 0, **settings):
    """A RunConfig training on the first ``train_days`` of ``dates`` and testing from
    ``gap`` dates later to the last date (``settings``: any other run settings)."""
    from alpha_core.config import RunConfig

    dates = list(dates)
    return RunConfig(
        train_start=dates[0],
        train_end=dates[train_days - 1],
        test_start=dates[train_days + gap],
        test_end=dates[-1],
        **settings,
    )


def make_panel(
    n_assets: int = 6,
    n_days: int = 80,
    seed: int = 0,
    start: dt.date = dt.date(2020, 1, 1),
    stagger: int = 0,
) -> pl.DataFrame:
    """Random-walk OHLCV panel; asset i starts ``i * stagger`` bars late."""
    rng = np.random.default_rng(seed)
    dates = business_days(start, n_days)
    frames = []
    for i in range(n_assets):
        d = dates[i * stagger :]
        n = len(d)
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
        open_ = close * np.exp(rng.normal(0, 0.005, n))
        frames.append(
            pl.DataFrame(
                {
                    "date": d,
                    "asset": f"A{i:02d}",
                    "open": open_,
                    "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, n)),
                    "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, n)),
                    "close": close,
                    "volume": rng.lognormal(12, 0.4, n),
                    "sector": ["Tech", "Energy", "Banks"][i % 3],
                    "asset_class": "equity",
                }
            )
        )
    return pl.concat(frames).sort("asset", "date")


@pytest.fixture
def panel() -> pl.DataFrame:
    return make_panel()
