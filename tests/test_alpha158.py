"""Alpha158: Qlib's own output (golden fixture), exact warmups, kernels, and the lookahead guard."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import make_panel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpha_core.features.alpha158 import (
    ALPHA158,
    ALPHA158_BY_NAME,
    ALPHA158_NAMES,
    DOCS,
    TABLE_END,
    TABLE_START,
    available_names,
    build_alpha158,
    registry_markdown,
)
from alpha_core.features.rolling_kernels import (
    rolling_arg_extreme,
    rolling_rank_pct,
    rolling_regression,
)

FIXTURES = Path(__file__).parent / "fixtures"

# ------------------------------------------------------------------------------ golden
FLOAT32_ULP = 2.0**-23
"""float32 machine epsilon: one unit in the last place of a value in [1, 2)."""
QLIB_FLOAT32_FAMILIES = ("CORR", "CORD", "WVMA")
"""Qlib evaluates element-wise operators on its float32 storage, so close/Ref(close,1) - 1,
Log($volume+1) ... are rounded to float32 (about 1e-7 relative) before a cancellation or a
correlation amplifies it; our inputs are float64. Recomputing these three families in
float32 the way Qlib does reproduces its values exactly (checked when the fixture was made);
in float64 they differ by up to 1.8e-5, hence their own tolerance."""


def _tolerance(name: str) -> tuple[float, float]:
    """(atol, rtol): 2 float32 ulps, or 5e-5 where Qlib rounds intermediates to float32."""
    if name.rstrip("0123456789") in QLIB_FLOAT32_FAMILIES:
        return 5e-5, 5e-5
    return FLOAT32_ULP, 2 * FLOAT32_ULP


def test_alpha158_matches_qlib_golden_fixture():
    """Every feature on 8 gap-free S&P 500 assets against Qlib 0.9.7's Alpha158DL output.

    The fixture (bench/make_alpha158_fixture.py) holds the float32 bars Qlib read and its
    features from the first date on which every window is full.
    """
    bars = pl.read_parquet(FIXTURES / "alpha158_qlib_bars.parquet")
    qlib = pl.read_parquet(FIXTURES / "alpha158_qlib.parquet")
    assert qlib.columns == ["date", "asset", *ALPHA158_NAMES]
    assert qlib.height >= 8 * 120 and qlib["asset"].n_unique() == 8
    ours = build_alpha158(bars).join(qlib.select("date", "asset"), on=["date", "asset"])
    ours = ours.sort("asset", "date")
    assert ours.select("date", "asset").equals(qlib.select("date", "asset"))
    for name in ALPHA158_NAMES:
        atol, rtol = _tolerance(name)
        expected, got = qlib[name].to_numpy(), ours[name].to_numpy()
        assert not np.isnan(expected).any(), name  # full windows on clean bars
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)


def test_vwap0_needs_a_vwap_column():
    panel = make_panel(n_assets=2, n_days=10)
    assert "VWAP0" not in available_names(panel.columns)
    assert build_alpha158(panel, ("VWAP0",))["VWAP0"].null_count() == panel.height
    with_vwap = panel.with_columns(((pl.col("high") + pl.col("low")) / 2).alias("vwap"))
    assert available_names(with_vwap.columns) == ALPHA158_NAMES
    got = build_alpha158(with_vwap, ("VWAP0",))["VWAP0"].to_numpy()
    expected = (with_vwap["vwap"] / with_vwap["close"]).cast(pl.Float32).to_numpy()
    np.testing.assert_array_equal(got, expected)


# ----------------------------------------------------------------- registry and warmups
def test_registry_is_qlibs_158_features_in_order():
    assert len(ALPHA158) == 158 and len(set(ALPHA158_NAMES)) == 158
    assert ALPHA158_NAMES[:13] == (
        *("KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2"),
        *("OPEN0", "HIGH0", "LOW0", "VWAP0"),
    )
    assert ALPHA158_NAMES[13:18] == ("ROC5", "ROC10", "ROC20", "ROC30", "ROC60")
    assert ALPHA158_NAMES[-1] == "VSUMD60"
    assert all(f.definition and "\n" not in f.definition for f in ALPHA158)


def test_warmup_is_exact_for_every_feature():
    """Null on exactly the first ``warmup`` bars of each asset, on clean bars."""
    panel = make_panel(n_assets=3, n_days=90, stagger=9, seed=4)
    panel = panel.with_columns(((pl.col("high") + pl.col("low")) / 2).alias("vwap"))
    feats = build_alpha158(panel).with_columns(pl.int_range(pl.len()).over("asset").alias("bar"))
    for f in ALPHA158:
        first_valid = (
            feats.filter(pl.col(f.name).is_not_null()).group_by("asset").agg(pl.col("bar").min())
        )
        assert first_valid.height == 3, f.name
        assert (first_valid["bar"] == f.warmup).all(), (f.name, first_valid["bar"].to_list())


def test_selection_keeps_order_and_rejects_unknown_names():
    panel = make_panel(n_assets=2, n_days=70)
    some = build_alpha158(panel, ("RSQR20", "KMID", "IMAX5"))
    assert some.columns == ["date", "asset", "RSQR20", "KMID", "IMAX5"]
    assert some.equals(build_alpha158(panel).select(some.columns))
    assert all(some[c].dtype == pl.Float32 for c in some.columns[2:])
    with pytest.raises(ValueError, match="unknown Alpha158 features: NOPE"):
        build_alpha158(panel, ("KMID", "NOPE"))
    empty = build_alpha158(panel.head(0))
    assert empty.height == 0 and empty.columns == ["date", "asset", *ALPHA158_NAMES]


def test_a_missing_close_nulls_exactly_the_windows_that_hold_it():
    panel = make_panel(n_assets=1, n_days=40, seed=5)
    holed = panel.with_columns(
        pl.when(pl.int_range(pl.len()) == 20).then(None).otherwise(pl.col("close")).alias("close")
    )
    names = ("MA5", "STD5", "BETA5", "RSQR5", "RANK5", "QTLU5", "CORR5", "SUMP5")
    clean, got = build_alpha158(panel, names), build_alpha158(holed, names)
    for name in names:
        lost = 6 if name == "SUMP5" else 5  # SUMP5's changes need the bar before too
        assert got[name][20 : 20 + lost].null_count() == lost, name
        np.testing.assert_allclose(got[name][20 + lost :], clean[name][20 + lost :], rtol=1e-6)


# --------------------------------------------------------------------- numba kernels
def _segments(n: int) -> np.ndarray:
    return np.array([0, n], dtype=np.int64)


def test_rank_kernel_is_pandas_average_percentile_with_ties():
    x = np.random.default_rng(1).integers(0, 4, 200).astype(float)  # many ties
    for d in (5, 10):
        got = rolling_rank_pct(x, _segments(200), d)
        for t in range(d - 1, 200):
            w = x[t - d + 1 : t + 1]
            expected = ((w < w[-1]).sum() + ((w == w[-1]).sum() + 1) / 2) / d
            assert got[t] == pytest.approx(expected)
        assert np.isnan(got[: d - 1]).all()


def test_arg_extreme_kernel_gives_the_first_extreme_one_based():
    x = np.random.default_rng(2).integers(0, 3, 300).astype(float)
    x[[50, 51]] = np.nan
    for d in (5, 20):
        top = rolling_arg_extreme(x, _segments(300), d, True)
        bottom = rolling_arg_extreme(x, _segments(300), d, False)
        for t in range(d - 1, 300):
            w = x[t - d + 1 : t + 1]
            if np.isnan(w).any():
                assert np.isnan(top[t]) and np.isnan(bottom[t])
            else:
                assert top[t] == np.argmax(w) + 1 and bottom[t] == np.argmin(w) + 1


def test_regression_kernel_matches_polyfit():
    y = 100 + np.cumsum(np.random.default_rng(3).normal(0, 1, 120))
    slope, rsq, resi = rolling_regression(y, _segments(120), 20, 2e-5)
    x = np.arange(1, 21)
    for t in range(19, 120):
        w = y[t - 19 : t + 1]
        b, a = np.polyfit(x, w, 1)
        assert slope[t] == pytest.approx(b, rel=1e-9)
        assert resi[t] == pytest.approx(w[-1] - (a + b * 20), abs=1e-9)
        assert rsq[t] == pytest.approx(np.corrcoef(x, w)[0, 1] ** 2, rel=1e-9)
    flat = rolling_regression(np.full(30, 250.0), _segments(30), 10, 2e-5)
    assert np.isnan(flat[1][9:]).all() and (flat[0][9:] == 0).all()


def test_kernels_restart_at_every_asset():
    y = np.random.default_rng(4).normal(0, 1, 100)
    starts = np.array([0, 37, 100], dtype=np.int64)
    for kernel in (
        lambda v, s: rolling_rank_pct(v, s, 10),
        lambda v, s: rolling_arg_extreme(v, s, 10, True),
        lambda v, s: rolling_regression(v, s, 10, 2e-5)[0],
    ):
        joint = kernel(y, starts)
        alone = np.concatenate([kernel(y[:37], _segments(37)), kernel(y[37:], _segments(63))])
        np.testing.assert_array_equal(joint, alone)


# ----------------------------------------------------------------------- lookahead guard
BASE = make_panel(n_assets=6, n_days=100, seed=3, stagger=6)
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
    if mode == "new_asset":  # a new asset that sorts first, between others, or last
        name = ["0NEW", "A02B", "ZNEW"][seed % 3]
        extra = make_panel(n_assets=1, n_days=30, seed=seed, start=cut + dt.timedelta(days=1))
        future = pl.concat([future, extra.with_columns(pl.lit(name).alias("asset"))])
    return pl.concat([past, future])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut_index=st.integers(min_value=0, max_value=len(DATES) - 2),
    mode=st.sampled_from(["perturb", "remove", "new_asset"]),
    seed=st.integers(0, 10_000),
)
def test_no_alpha158_feature_looks_past_the_cut(cut_index, mode, seed):
    """Change or delete every bar after T: no Alpha158 value on or before T may move a bit."""
    cut = DATES[cut_index]
    before = build_alpha158(BASE).filter(pl.col("date") <= cut)
    after = build_alpha158(_alter_future(BASE, cut, mode, seed)).filter(pl.col("date") <= cut)
    assert before.select("date", "asset").equals(after.select("date", "asset"))
    for name in ALPHA158_NAMES:
        assert before[name].equals(after[name], null_equal=True), f"{name} moved at cut {cut}"


def test_sorted_and_shuffled_panels_give_the_same_features():
    panel = make_panel(n_assets=5, n_days=80, stagger=4, seed=9)
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=1)
    assert build_alpha158(panel).equals(build_alpha158(shuffled))


def test_assets_do_not_bleed_into_each_other():
    """Each asset's features, built with the others, equal those built on its bars alone.

    One asset also misses a date and has a zero-volume bar: its windows still count its own
    bars, and nothing of it reaches its neighbours.
    """
    panel = make_panel(n_assets=4, n_days=90, stagger=5, seed=11)
    row = pl.int_range(pl.len()).over("asset")
    odd = pl.col("asset") == "A01"
    panel = panel.filter(~(odd & (row == 40))).with_columns(
        pl.when(odd & (row == 50)).then(0.0).otherwise(pl.col("volume")).alias("volume")
    )
    together = build_alpha158(panel)
    for asset in panel["asset"].unique().sort():
        alone = build_alpha158(panel.filter(pl.col("asset") == asset))
        assert together.filter(pl.col("asset") == asset).equals(alone), asset


def test_docs_table_is_generated_from_the_registry():
    """docs/alpha158.md's table is the registry's: regenerate with python -m
    alpha_core.features.alpha158."""
    text = (Path(__file__).resolve().parents[1] / DOCS).read_text()
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert table == registry_markdown()
    assert table.count("\n") == 2 + len(ALPHA158) - 1
    assert "| `CORD60` | correlation of close_t/close_t-1 and ln(volume_t/volume_t-1 + 1)" in table


def test_definitions_are_reachable_by_name():
    assert ALPHA158_BY_NAME["IMXD20"].warmup == 19 and ALPHA158_BY_NAME["CORD60"].warmup == 60
