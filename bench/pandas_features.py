"""The 12 features and the label written the straightforward pandas way (the bench baseline).

Independent of ``alpha_core.features.library``: per-asset ``groupby().shift()`` and
``groupby().rolling()``, as one would write them first. ``bench_features.py`` checks that
both give the same numbers (``allclose``) and times them against each other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def sector_ids(df: pd.DataFrame) -> pd.Series:
    """Sector codes in order of first appearance (date, then sector name)."""
    sector = df["sector"].fillna("unknown") if "sector" in df else pd.Series("unknown", df.index)
    first = (
        pd.DataFrame({"sector": sector, "date": df["date"]})
        .groupby("sector")["date"]
        .min()
        .reset_index()
        .sort_values(["date", "sector"])
    )
    codes = dict(zip(first["sector"], range(len(first)), strict=True))
    return sector.map(codes).astype("int32")


def pandas_features(df: pd.DataFrame) -> pd.DataFrame:
    """``date, asset``, 12 features, ``label`` and ``label_end`` (close-to-close), by asset/date."""
    df = df.sort_values(["asset", "date"], kind="stable").reset_index(drop=True)
    g = df.groupby("asset", sort=False)
    out = df[["date", "asset"]].copy()
    prev_close = g["close"].shift(1)
    lr = np.log(df["close"] / prev_close)
    out["ln_ret_1"] = lr
    out["mom_5"] = df["close"] / g["close"].shift(5) - 1
    out["mom_20"] = df["close"] / g["close"].shift(20) - 1
    lr_g = lr.groupby(df["asset"], sort=False)
    out["vol_5"] = lr_g.rolling(5).std().reset_index(level=0, drop=True)
    out["vol_20"] = lr_g.rolling(20).std().reset_index(level=0, drop=True)
    v20 = g["volume"].rolling(20)
    mean20 = v20.mean().reset_index(level=0, drop=True)
    std20 = v20.std().reset_index(level=0, drop=True)
    out["vol_z_20"] = (df["volume"] - mean20) / std20
    out["gap_pc"] = df["open"] / prev_close - 1
    sma20 = g["close"].rolling(20).mean().reset_index(level=0, drop=True)
    out["price_sma20_dev"] = df["close"] / sma20 - 1
    out["hl_range_pc"] = (df["high"] - df["low"]) / df["close"]
    dates = pd.to_datetime(df["date"])
    out["month"] = dates.dt.month
    out["day_of_week"] = dates.dt.day_of_week
    out["sector_id"] = sector_ids(df)
    out["label"] = g["close"].shift(-1) / df["close"] - 1
    out["label_end"] = g["date"].shift(-1)
    floats = out.select_dtypes("float").columns
    out[floats] = out[floats].replace([np.inf, -np.inf], np.nan)
    return out
