"""The data stage's settings: where the bars come from and what a run does with bad ones."""

from __future__ import annotations

from dataclasses import dataclass

from alpha_core.base.settings import names_of, setting

BAD_BAR_POLICIES = {
    "refuse": "stop with a message naming the bad bars (the default)",
    "drop": "leave the bad bars out; the run reports how many bars and test dates it lost",
    "keep": "train on the bars as they are",
}
"""What a run does with bars the quality checks find unusable (the ``on_bad_bars`` setting)."""


@dataclass(frozen=True)
class DataSettings:
    """The source of the panel, its metadata and the bad-bar policy (``on_bad_bars``)."""

    data: str = setting("demo", label="Data", help="'demo' or a path (CSV, Parquet, folder, zip)")
    metadata: str | None = setting(
        None, label="Metadata", help="CSV mapping asset to sector/asset_class"
    )
    on_bad_bars: str = setting(
        "refuse",
        label="Bad bars",
        choices=names_of(BAD_BAR_POLICIES),
        section="Windows",
        help="bars with missing, infinite or non-positive prices, OHLC out of order, negative "
        "volume or on stray dates: refuse (stop and name them), drop (train without them; "
        "the run reports what it lost) or keep (train on them as they are)",
    )
