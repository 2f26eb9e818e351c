"""The simulated demo universe: shape, stylized facts, planted structure, oracle and cache.

Every statistic is recomputed here from the panel with plain polars/numpy, independently of the
generator's internals (only its published constants are used, to rebuild the oracle formula).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from alpha_core.data import demo
from alpha_core.data.demo import (
    DEMO_SEED,
    DEMO_SOURCE_LABEL,
    GENERATOR_VERSION,
    DemoUniverse,
    demo_assets,
    generate_demo,
    load_demo,
)

FOUNDING_ROWS = 385_394  # rows the founding document trained on (2000-01-04 .. 2024-10-01)


@pytest.fixture(scope="module")
def timed_universe() -> tuple[DemoUniverse, float]:
    start = time.perf_counter()
    universe = generate_demo()
    return universe, time.perf_counter() - start


@pytest.fixture(scope="module")
def universe(timed_universe: tuple[DemoUniverse, float]) -> DemoUniverse:
    return timed_universe[0]


@pytest.fixture(scope="module")
def returns(universe: DemoUniverse) -> pl.DataFrame:
    """Panel + oracle with per-asset log return, gap, intraday part and next-day simple return."""
    c = pl.col("close")
    return (
        universe.panel.join(universe.oracle, on=["date", "asset"], how="left")
        .with_columns(
            lr=(c / c.shift(1)).log().over("asset"),
            gap=(pl.col("open") / c.shift(1)).log().over("asset"),
            intraday=(c / pl.col("open")).log(),
            fwd=(c.shift(-1) / c - 1).over("asset"),
        )
        .sort("asset", "date")
    )


def daily_rank_ic(frame: pl.DataFrame, pred: str, target: str = "fwd") -> float:
    """Mean over dates of the Spearman correlation between ``pred`` and ``target``."""
    per_date = (
        frame.drop_nulls([pred, target])
        .with_columns(
            a=pl.col(pred).rank().over("date"),
            b=pl.col(target).rank().over("date"),
        )
        .group_by("date")
        .agg(ic=pl.corr("a", "b"), n=pl.len())
        .filter(pl.col("n") >= 5)
    )
    return float(per_date["ic"].fill_nan(None).drop_nulls().mean())


def engine_features(panel: pl.DataFrame) -> pl.DataFrame:
    """The engine's feature definitions, per asset on its own bars, written out independently."""
    c, v, g = pl.col("close"), pl.col("volume"), "asset"
    return (
        panel.sort("asset", "date")
        .with_columns(
            ln_ret_1=(c / c.shift(1)).log().over(g),
            mom_5=(c / c.shift(5) - 1).over(g),
            mom_20=(c / c.shift(20) - 1).over(g),
            vol_z_20=((v - v.rolling_mean(20)) / v.rolling_std(20)).over(g),
            gap_pc=(pl.col("open") / c.shift(1) - 1).over(g),
            price_sma20_dev=(c / c.rolling_mean(20) - 1).over(g),
            hl_range_pc=(pl.col("high") - pl.col("low")) / c,
            month=pl.col("date").dt.month(),
            day_of_week=pl.col("date").dt.weekday() - 1,
            sector_id=pl.col("sector").rank("dense") - 1,
            label=(c.shift(-1) / c - 1).over(g),
        )
        .with_columns(
            vol_5=pl.col("ln_ret_1").rolling_std(5).over(g),
            vol_20=pl.col("ln_ret_1").rolling_std(20).over(g),
        )
    )


# --------------------------------------------------------------------------- shape and universe
def test_label_and_public_constants():
    assert DEMO_SOURCE_LABEL == "simulated"
    assert DEMO_SEED == 7
    assert isinstance(GENERATOR_VERSION, int)


def test_generation_is_fast(timed_universe):
    assert timed_universe[1] < 5.0


def test_schema_sorted_and_aligned(universe):
    panel, oracle = universe.panel, universe.oracle
    assert panel.schema == pl.Schema(
        {
            "date": pl.Date,
            "asset": pl.Utf8,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
            "sector": pl.Utf8,
            "asset_class": pl.Utf8,
        }
    )
    assert oracle.schema == pl.Schema(
        {"date": pl.Date, "asset": pl.Utf8, "expected_return": pl.Float64}
    )
    assert panel.equals(panel.sort("asset", "date"))
    assert panel.select("date", "asset").equals(oracle.select("date", "asset"))
    assert panel.select(pl.struct("asset", "date").is_unique().all()).item()
    assert panel.null_count().sum_horizontal().item() == 0
    assert oracle.null_count().sum_horizontal().item() == 0
    numeric = panel.select(pl.col(pl.Float64)).to_numpy()
    assert np.isfinite(numeric).all() and np.isfinite(oracle["expected_return"].to_numpy()).all()


def test_universe_composition(universe):
    panel = universe.panel
    meta = panel.group_by("asset").agg(
        pl.col("asset_class").n_unique().alias("n_cls"),
        pl.col("sector").n_unique().alias("n_sec"),
        pl.col("asset_class").first(),
        pl.col("sector").first(),
    )
    assert meta.height == 89
    assert (meta["n_cls"] == 1).all() and (meta["n_sec"] == 1).all()
    assert meta["asset_class"].n_unique() >= 5
    equities = meta.filter(pl.col("asset_class") == "equity")
    assert 45 <= equities.height <= 65
    assert equities["sector"].n_unique() >= 6
    listed = demo_assets()
    assert listed["asset"].to_list() == sorted(meta["asset"].to_list())


def test_calendar_listings_and_row_count(universe):
    panel = universe.panel
    dates = panel["date"].unique().sort()
    assert dates[0] == dt.date(2000, 1, 3) and dates[-1] == dt.date(2025, 3, 31)
    assert (dates.dt.weekday() <= 5).all()  # polars: Monday = 1 .. Sunday = 7
    n_bdays = int(np.busday_count(dt.date(2000, 1, 3), dt.date(2025, 4, 1)))
    assert dates.len() == n_bdays  # every business day is present (no holiday calendar)

    span = panel.group_by("asset").agg(
        first=pl.col("date").min(), last=pl.col("date").max(), n=pl.len()
    )
    # each asset trades on every business day between its listing and its last bar
    expected_n = [
        int(np.busday_count(f, last + dt.timedelta(days=1)))
        for f, last in zip(span["first"], span["last"], strict=True)
    ]
    assert span["n"].to_list() == expected_n
    assert span.filter(pl.col("first") > dt.date(2000, 1, 3)).height >= 40  # staggered
    assert span["first"].max() >= dt.date(2012, 1, 1)
    assert 3 <= span.filter(pl.col("last") < dt.date(2025, 3, 31)).height <= 5  # delistings

    live = panel.group_by("date").len().sort("date")
    early = live.filter(pl.col("date").dt.year() == 2001)["len"].mean()
    late = live.filter(pl.col("date").dt.year() == 2023)["len"].mean()
    assert late > 2 * early

    founding = panel.filter(pl.col("date").is_between(dt.date(2000, 1, 4), dt.date(2024, 10, 1)))
    assert abs(founding.height - FOUNDING_ROWS) / FOUNDING_ROWS < 0.05


def test_ohlc_consistent_and_positive(universe):
    p = universe.panel
    assert (p.select(pl.col("open", "high", "low", "close", "volume")).min_horizontal() > 0).all()
    o, h, lo, c = (p[name].to_numpy() for name in ("open", "high", "low", "close"))
    assert (lo <= np.minimum(o, c)).all()
    assert (h >= np.maximum(o, c)).all()
    assert (h > lo).all()


# ----------------------------------------------------------------------------- stylized facts
def test_fat_tails(returns):
    r = returns["lr"].drop_nulls().to_numpy()
    r = r - r.mean()
    excess_kurtosis = (r**4).mean() / (r**2).mean() ** 2 - 3
    assert excess_kurtosis > 3


def test_volatility_clustering(returns):
    acf = (
        returns.with_columns(a=pl.col("lr").abs())
        .with_columns(a_lag=pl.col("a").shift(1).over("asset"))
        .group_by("asset")
        .agg(acf=pl.corr("a", "a_lag"))["acf"]
    )
    assert acf.median() > 0.1
    assert (acf > 0).all()


def test_correlation_higher_within_class_and_sector(returns):
    window = returns.filter(pl.col("date").is_between(dt.date(2018, 1, 1), dt.date(2024, 12, 31)))
    wide = window.pivot(on="asset", index="date", values="lr").drop("date").drop_nulls()
    names = wide.columns
    meta = dict(
        returns.group_by("asset")
        .agg(pl.struct(pl.col("asset_class").first(), pl.col("sector").first()).alias("m"))
        .iter_rows()
    )
    cls = np.array([meta[a]["asset_class"] for a in names])
    sec = np.array([meta[a]["sector"] for a in names])
    corr = np.corrcoef(wide.to_numpy().T)
    off = ~np.eye(len(names), dtype=bool)
    same_cls = cls[:, None] == cls[None, :]
    same_sec = sec[:, None] == sec[None, :]
    within_sector = corr[same_sec & off].mean()
    within_class_other_sector = corr[same_cls & ~same_sec].mean()
    across_class = corr[~same_cls].mean()
    assert within_sector > within_class_other_sector + 0.1
    assert within_class_other_sector > across_class + 0.1


def test_volume_rises_with_absolute_return(returns):
    per_asset = (
        returns.with_columns(a=pl.col("lr").abs(), lv=pl.col("volume").log())
        .group_by("asset")
        .agg(c=pl.corr("lv", "a"))["c"]
    )
    assert per_asset.median() > 0.1
    assert (per_asset > 0).all()


def test_overnight_gaps(returns):
    rows = returns.drop_nulls("gap")
    assert (rows["gap"] != 0).mean() > 0.99
    # the close-to-close log return splits into the overnight gap and the intraday move
    np.testing.assert_allclose(rows["gap"] + rows["intraday"], rows["lr"], atol=1e-12)
    share = rows.group_by("asset").agg(s=pl.col("gap").var() / pl.col("lr").var())["s"]
    assert share.min() > 0.05 and share.max() < 0.8


# ------------------------------------------------------------------------ oracle and structure
def test_oracle_rank_ic_is_weak_but_real(returns):
    ic = daily_rank_ic(returns, "expected_return")
    assert 0.02 < ic < 0.06


def test_oracle_is_the_conditional_expectation(returns):
    rows = returns.drop_nulls("fwd")
    x, y = rows["expected_return"].to_numpy(), rows["fwd"].to_numpy()
    slope = np.cov(x, y)[0, 1] / x.var(ddof=1)
    assert 0.8 < slope < 1.2
    # the noise has mean zero; it is correlated within a date (factors), so test date means
    by_date = rows.group_by("date").agg((pl.col("fwd") - pl.col("expected_return")).mean())
    resid = by_date["fwd"].to_numpy()
    assert abs(resid.mean()) < 4 * resid.std() / np.sqrt(len(resid))


def test_oracle_is_the_documented_function_of_engine_features(universe):
    """expected_return_t uses only the asset's own bars up to t (plus class and month)."""
    f = engine_features(universe.panel).join(universe.oracle, on=["date", "asset"])
    drift = pl.col("asset_class").replace_strict(demo.DRIFT_BP, return_dtype=pl.Float64)
    season = pl.struct("asset_class", "month").map_elements(
        lambda s: demo.SEASON_BP[s["asset_class"]][s["month"] - 1], return_dtype=pl.Float64
    )
    ramp = ((pl.col("vol_z_20") - demo.VOLZ_LO) / (demo.VOLZ_HI - demo.VOLZ_LO)).clip(0, 1)
    rebuilt = f.select(
        "expected_return",
        mu=(drift + season) * 1e-4
        + (demo.A_REV * pl.col("ln_ret_1") * ramp).fill_null(0)
        + (demo.A_MOM * pl.col("mom_5")).fill_null(0)
        + (demo.A_MR * pl.col("price_sma20_dev")).fill_null(0),
    ).with_columns(pl.col("mu").clip(-demo.MU_CLIP, demo.MU_CLIP))
    np.testing.assert_allclose(rebuilt["mu"], rebuilt["expected_return"], rtol=0, atol=1e-10)


@pytest.mark.slow
def test_planted_structure_is_learnable_out_of_sample(universe):
    """LightGBM (the founding parameters) reaches at least half the oracle's rank IC, 2020-2025."""
    lgb = pytest.importorskip("lightgbm")
    names = [
        "ln_ret_1", "mom_5", "mom_20", "vol_5", "vol_20", "vol_z_20", "gap_pc",
        "price_sma20_dev", "hl_range_pc", "month", "day_of_week", "sector_id",
    ]  # fmt: skip
    f = engine_features(universe.panel).join(universe.oracle, on=["date", "asset"])
    f = f.drop_nulls("label")
    train = f.filter(pl.col("date") <= dt.date(2019, 12, 31))
    test = f.filter(pl.col("date").is_between(dt.date(2020, 1, 1), dt.date(2025, 3, 27)))
    params = {
        "objective": "regression",
        "learning_rate": 0.05,
        "max_depth": 6,
        "num_leaves": 50,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "min_data_in_leaf": 20,
        "max_bin": 255,
        "num_threads": 2,
        "seed": 42,
        "deterministic": True,
        "verbose": -1,
    }
    data = lgb.Dataset(train.select(names).to_numpy(), train["label"].to_numpy())
    model = lgb.train(params, data, num_boost_round=500)
    test = test.with_columns(pred=pl.Series(model.predict(test.select(names).to_numpy())))
    model_ic = daily_rank_ic(test, "pred", "label")
    oracle_ic = daily_rank_ic(test, "expected_return", "label")
    assert model_ic >= 0.5 * oracle_ic > 0


def test_listing_bars_use_no_unlisted_history(universe):
    """On an asset's first five bars only drift + season apply (no feature is defined yet)."""
    first_bars = (
        universe.panel.join(universe.oracle, on=["date", "asset"])
        .with_columns(bar=pl.int_range(pl.len()).over("asset"))
        .filter(pl.col("bar") < 5)
    )
    expected = [
        (demo.DRIFT_BP[c] + demo.SEASON_BP[c][d.month - 1]) * 1e-4
        for c, d in zip(first_bars["asset_class"], first_bars["date"], strict=True)
    ]
    np.testing.assert_allclose(first_bars["expected_return"], expected, rtol=0, atol=1e-15)


# ------------------------------------------------------------------------------- determinism
def test_same_seed_same_frames_other_seed_differs(universe):
    again = generate_demo(DEMO_SEED)
    assert again.panel.equals(universe.panel)
    assert again.oracle.equals(universe.oracle)
    other = generate_demo(DEMO_SEED + 1)
    assert other.panel.select("date", "asset").equals(universe.panel.select("date", "asset"))
    assert not other.panel["close"].equals(universe.panel["close"])
    assert not other.oracle["expected_return"].equals(universe.oracle["expected_return"])


# ------------------------------------------------------------------------------------- cache
@pytest.fixture
def counting_generator(monkeypatch, universe):
    calls: list[int] = []

    def fake(seed: int = DEMO_SEED) -> DemoUniverse:
        calls.append(seed)
        return universe

    monkeypatch.setattr(demo, "generate_demo", fake)
    return calls


def test_load_demo_caches_parquet(tmp_path, counting_generator, universe):
    first = load_demo(cache_dir=tmp_path)
    assert counting_generator == [DEMO_SEED]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2
    assert all(f.endswith(".parquet") for f in files)
    assert all(f"seed{DEMO_SEED}" in f and f"v{GENERATOR_VERSION}" in f for f in files)
    second = load_demo(cache_dir=tmp_path)
    assert counting_generator == [DEMO_SEED]  # served from the cache
    assert second.panel.equals(first.panel) and second.oracle.equals(universe.oracle)
    load_demo(seed=3, cache_dir=tmp_path)
    assert counting_generator == [DEMO_SEED, 3]
    assert len(list(tmp_path.iterdir())) == 4


def test_load_demo_default_dir_from_env(tmp_path, monkeypatch, counting_generator):
    monkeypatch.setenv("ALPHA_LAB_DATA_DIR", str(tmp_path / "env_cache"))
    load_demo()
    assert len(list((tmp_path / "env_cache").glob("*.parquet"))) == 2
    monkeypatch.delenv("ALPHA_LAB_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    load_demo()
    assert len(list((tmp_path / "data" / "cache").glob("*.parquet"))) == 2


def test_load_demo_regenerates_missing_or_corrupt(tmp_path, counting_generator):
    load_demo(cache_dir=tmp_path)
    panel_path, oracle_path = demo.demo_cache_paths(DEMO_SEED, tmp_path)
    oracle_path.unlink()
    load_demo(cache_dir=tmp_path)
    assert len(counting_generator) == 2 and oracle_path.exists()
    panel_path.write_bytes(b"not parquet")
    again = load_demo(cache_dir=tmp_path)
    assert len(counting_generator) == 3
    assert pl.read_parquet(panel_path).equals(again.panel)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, counting_generator):
    def broken_write(self: pl.DataFrame, file: str | os.PathLike[str], **_: object) -> None:
        Path(file).write_bytes(b"half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken_write)
    with pytest.raises(OSError, match="disk full"):
        load_demo(cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
