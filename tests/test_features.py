"""Features: values against an independent pandas computation, and the lookahead guard."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from conftest import make_panel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpha_core.features.library import (
    FEATURE_NAMES,
    LABEL,
    LABEL_END,
    build_features,
    sector_codes,
)


def pandas_features(panel: pl.DataFrame) -> pd.DataFrame:
    """The 12 features written the straightforward pandas way, per asset."""
    df = panel.to_pandas().sort_values(["asset", "date"])
    g = df.groupby("asset", sort=False)
    out = df[["date", "asset"]].copy()
    prev_close = g["close"].shift(1)
    out["ln_ret_1"] = np.log(df["close"] / prev_close)
    df["_lr"] = out["ln_ret_1"]
    out["mom_5"] = df["close"] / g["close"].shift(5) - 1
    out["mom_20"] = df["close"] / g["close"].shift(20) - 1
    lr = df.groupby("asset", sort=False)["_lr"]
    out["vol_5"] = lr.rolling(5).std().reset_index(level=0, drop=True)
    out["vol_20"] = lr.rolling(20).std().reset_index(level=0, drop=True)
    vol = g["volume"]
    mean20 = vol.rolling(20).mean().reset_index(level=0, drop=True)
    std20 = vol.rolling(20).std().reset_index(level=0, drop=True)
    out["vol_z_20"] = (df["volume"] - mean20) / std20
    out["gap_pc"] = df["open"] / prev_close - 1
    sma = g["close"].rolling(20).mean().reset_index(level=0, drop=True)
    out["price_sma20_dev"] = df["close"] / sma - 1
    out["hl_range_pc"] = (df["high"] - df["low"]) / df["close"]
    out["month"] = pd.to_datetime(df["date"]).dt.month
    out["day_of_week"] = pd.to_datetime(df["date"]).dt.dayofweek
    out["label"] = g["close"].shift(-1) / df["close"] - 1
    return out.reset_index(drop=True)


def test_features_match_pandas_reference():
    panel = make_panel(n_assets=5, n_days=70, stagger=7)
    ours = build_features(panel).to_pandas()
    ref = pandas_features(panel)
    assert list(ours["asset"]) == list(ref["asset"])
    for col in [*FEATURE_NAMES[:-1], "label"]:
        np.testing.assert_allclose(
            ours[col].astype(float),
            ref[col].astype(float),
            rtol=1e-9,
            atol=1e-12,
            equal_nan=True,
            err_msg=col,
        )


def test_warmup_rows_are_null_and_last_label_is_null():
    feats = build_features(make_panel(n_assets=2, n_days=40))
    first = feats.filter(pl.col("asset") == "A00")
    assert first["mom_20"][:20].null_count() == 20
    assert first["mom_20"][20] is not None
    assert first[LABEL][-1] is None and first[LABEL_END][-1] is None


def test_open_to_open_label_uses_next_two_opens():
    panel = make_panel(n_assets=1, n_days=10)
    feats = build_features(panel, label="open_to_open")
    opens = panel["open"].to_numpy()
    expected = opens[2:] / opens[1:-1] - 1
    np.testing.assert_allclose(feats[LABEL][:8].to_numpy(), expected)
    assert feats[LABEL][8:].null_count() == 2
    assert feats[LABEL_END][0] == panel["date"][2]


def test_sector_codes_follow_first_appearance():
    panel = make_panel(n_assets=4, n_days=30, stagger=5)  # A00 Tech, A01 Energy, A02 Banks
    codes = dict(sector_codes(panel).iter_rows())
    assert codes == {"Tech": 0, "Energy": 1, "Banks": 2}


def test_unknown_feature_is_named():
    with pytest.raises(ValueError, match="unknown features: nope"):
        build_features(make_panel(n_assets=1, n_days=5), features=("nope",))


# ---------------------------------------------------------------- lookahead guard
BASE = make_panel(n_assets=6, n_days=90, seed=3, stagger=6)
DATES = sorted(BASE["date"].unique().to_list())


def _alter_future(panel: pl.DataFrame, cut: dt.date, mode: str, seed: int) -> pl.DataFrame:
    past = panel.filter(pl.col("date") <= cut)
    future = panel.filter(pl.col("date") > cut)
    if mode == "remove":
        return past
    rng = np.random.default_rng(seed)
    n = future.height
    scale = rng.uniform(0.5, 2.0, n)
    future = future.with_columns(
        pl.col(c) * scale for c in ("open", "high", "low", "close")
    ).with_columns(pl.col("volume") * rng.uniform(0.1, 10, n))
    if mode == "new_asset":
        extra = make_panel(n_assets=1, n_days=30, seed=seed, start=cut + dt.timedelta(days=1))
        extra = extra.with_columns(pl.lit("ZNEW").alias("asset"), pl.lit("Crypto").alias("sector"))
        future = pl.concat([future, extra])
    return pl.concat([past, future])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut_index=st.integers(min_value=0, max_value=len(DATES) - 2),
    mode=st.sampled_from(["perturb", "remove", "new_asset"]),
    label=st.sampled_from(["close_to_close", "open_to_open"]),
    seed=st.integers(0, 10_000),
)
def test_no_feature_looks_past_the_cut(cut_index, mode, label, seed):
    """Change or delete every bar after T: every feature on or before T must not move."""
    cut = DATES[cut_index]
    before = build_features(BASE, label=label).filter(pl.col("date") <= cut)
    altered = _alter_future(BASE, cut, mode, seed)
    after = build_features(altered, label=label).filter(pl.col("date") <= cut)
    assert before.select("date", "asset").equals(after.select("date", "asset"))
    for name in FEATURE_NAMES:
        assert before[name].equals(after[name], null_equal=True), f"{name} moved at cut {cut}"


def test_sorted_and_shuffled_panels_give_the_same_features():
    """A sorted panel skips the sort (and is flagged sorted); a shuffled one is sorted first."""
    panel = make_panel(n_assets=5, n_days=60, stagger=4, seed=9)
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=1)
    for label in ("close_to_close", "open_to_open"):
        assert build_features(panel, label=label).equals(build_features(shuffled, label=label))
