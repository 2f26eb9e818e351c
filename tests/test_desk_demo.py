"""The demo universe continued past its end: the original bars unchanged, every continuation
a prefix of a longer one, the planted regime shift only from its date, the source spellings."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from alpha_core.data.demo import DEMO_END, generate_demo, parse_demo_source
from alpha_core.data.panel import load_panel


@pytest.fixture(scope="module")
def continued():
    return generate_demo(end=date(2025, 5, 30))


def test_original_bars_unchanged_and_continuations_are_prefixes(continued):
    base = generate_demo()
    old = pl.col("date") <= DEMO_END
    assert_frame_equal(continued.panel.filter(old), base.panel, check_exact=True)
    assert_frame_equal(continued.oracle.filter(old), base.oracle, check_exact=True)
    shorter = generate_demo(end=date(2025, 4, 15))
    cut = continued.panel.filter(pl.col("date") <= date(2025, 4, 15))
    assert_frame_equal(shorter.panel, cut, check_exact=True)
    new = continued.panel.filter(~old)
    assert new["date"].n_unique() == 44 and new["date"].dt.weekday().max() <= 5
    assert new.group_by("date").len()["len"].unique().to_list() == [85]  # every listed asset


def test_regime_shift_from_its_date_only(continued):
    shift = date(2025, 4, 21)
    shifted = generate_demo(end=date(2025, 5, 30), shift=shift).panel
    before = pl.col("date") < shift
    assert_frame_equal(shifted.filter(before), continued.panel.filter(before), check_exact=True)

    def stats(panel: pl.DataFrame) -> tuple[float, float]:
        after = (
            panel.sort("asset", "date")
            .with_columns(
                (pl.col("close") / pl.col("close").shift(1).over("asset")).log().alias("r")
            )
            .filter(pl.col("date") > shift)
        )
        return after["r"].std(), after["volume"].log().mean()

    (vol_a, lv_a), (vol_b, lv_b) = stats(continued.panel), stats(shifted)
    assert 1.6 < vol_b / vol_a < 2.6 and 0.8 < lv_b - lv_a < 1.3


def test_demo_source_spellings():
    assert parse_demo_source("demo") is None and parse_demo_source("prices.csv") is None
    assert parse_demo_source("demo:2025-06-30") == (date(2025, 6, 30), None)
    assert parse_demo_source("demo:2025-06-30:shift=2025-05-01") == (
        date(2025, 6, 30), date(2025, 5, 1),
    )  # fmt: skip
    for bad, message in (
        ("demo:2025-13-01", "not a demo source"),
        ("demo:2025-06-30:jump=2025-05-01", "not a demo source"),
        ("demo:2024-12-31", "ends no earlier than 2025-03-31"),
        ("demo:2025-06-30:shift=2025-03-01", "the shift must fall after 2025-03-31"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_demo_source(bad)
    panel = load_panel("demo:2025-04-02")
    assert panel["date"].max() == date(2025, 4, 2)
