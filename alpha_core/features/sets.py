"""Feature sets: named, frozen lists of feature names (the ``feature_set`` setting).

A set is a fixed tuple of names written out here, never derived from a library's registry:
adding a feature to a library (or installing a new library) leaves every set, and so every
saved run's inputs, as they were. ``seed12`` is the seed's 12 names forever. A new set is
one entry in :data:`FEATURE_SETS`; it becomes an option of the run config, the CLI and the
Train page by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alpha_core.features.libraries import feature_spec

# fmt: off
SEED12: tuple[str, ...] = (
    "ln_ret_1", "mom_5", "mom_20", "vol_5", "vol_20", "vol_z_20", "gap_pc", "price_sma20_dev",
    "hl_range_pc", "month", "day_of_week", "sector_id",
)
"""The founding document's 12 features, in its order."""

ALPHA158: tuple[str, ...] = (
    "KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2", "OPEN0", "HIGH0",
    "LOW0", "VWAP0", "ROC5", "ROC10", "ROC20", "ROC30", "ROC60", "MA5", "MA10", "MA20", "MA30",
    "MA60", "STD5", "STD10", "STD20", "STD30", "STD60", "BETA5", "BETA10", "BETA20", "BETA30",
    "BETA60", "RSQR5", "RSQR10", "RSQR20", "RSQR30", "RSQR60", "RESI5", "RESI10", "RESI20",
    "RESI30", "RESI60", "MAX5", "MAX10", "MAX20", "MAX30", "MAX60", "MIN5", "MIN10", "MIN20",
    "MIN30", "MIN60", "QTLU5", "QTLU10", "QTLU20", "QTLU30", "QTLU60", "QTLD5", "QTLD10",
    "QTLD20", "QTLD30", "QTLD60", "RANK5", "RANK10", "RANK20", "RANK30", "RANK60", "RSV5",
    "RSV10", "RSV20", "RSV30", "RSV60", "IMAX5", "IMAX10", "IMAX20", "IMAX30", "IMAX60",
    "IMIN5", "IMIN10", "IMIN20", "IMIN30", "IMIN60", "IMXD5", "IMXD10", "IMXD20", "IMXD30",
    "IMXD60", "CORR5", "CORR10", "CORR20", "CORR30", "CORR60", "CORD5", "CORD10", "CORD20",
    "CORD30", "CORD60", "CNTP5", "CNTP10", "CNTP20", "CNTP30", "CNTP60", "CNTN5", "CNTN10",
    "CNTN20", "CNTN30", "CNTN60", "CNTD5", "CNTD10", "CNTD20", "CNTD30", "CNTD60", "SUMP5",
    "SUMP10", "SUMP20", "SUMP30", "SUMP60", "SUMN5", "SUMN10", "SUMN20", "SUMN30", "SUMN60",
    "SUMD5", "SUMD10", "SUMD20", "SUMD30", "SUMD60", "VMA5", "VMA10", "VMA20", "VMA30",
    "VMA60", "VSTD5", "VSTD10", "VSTD20", "VSTD30", "VSTD60", "WVMA5", "WVMA10", "WVMA20",
    "WVMA30", "WVMA60", "VSUMP5", "VSUMP10", "VSUMP20", "VSUMP30", "VSUMP60", "VSUMN5",
    "VSUMN10", "VSUMN20", "VSUMN30", "VSUMN60", "VSUMD5", "VSUMD10", "VSUMD20", "VSUMD30",
    "VSUMD60",
)
"""Qlib 0.9.7's Alpha158, in Qlib's order."""
# fmt: on


@dataclass(frozen=True)
class FeatureSet:
    """A frozen list of feature names; called with a panel's columns, its names for it."""

    name: str
    names: tuple[str, ...]
    description: str
    """One line for people (README, docs, the setting's help)."""
    omit_unavailable: bool = False
    """Leave out the features whose needed columns the panel lacks (else the data contract
    drops them and records ``features_dropped``)."""

    def __call__(self, columns: Sequence[str]) -> tuple[str, ...]:
        if not self.omit_unavailable:
            return self.names
        have = set(columns)
        return tuple(n for n in self.names if have.issuperset(_needs(n)))


def _needs(name: str) -> tuple[str, ...]:
    spec = feature_spec(name)
    return () if spec is None else tuple(spec.needs)


FEATURE_SETS: dict[str, FeatureSet] = {
    s.name: s
    for s in (
        FeatureSet("seed12", SEED12, "the seed's 12 features (the default)"),
        FeatureSet(
            "alpha158",
            ALPHA158,
            "Qlib's Alpha158: 158 features, 157 without a `vwap` column (`VWAP0` needs one)",
            omit_unavailable=True,
        ),
    )
}
"""Feature sets by name (the ``feature_set`` setting)."""


def set_features(feature_set: str, columns: Sequence[str]) -> tuple[str, ...]:
    """The features of ``feature_set`` for a panel with these columns."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature set must be one of {tuple(FEATURE_SETS)}, got {feature_set!r}")
    return tuple(FEATURE_SETS[feature_set](columns))


def run_features(
    feature_set: str, features: Sequence[str], columns: Sequence[str]
) -> tuple[str, ...]:
    """A run's model inputs: its named ``features`` when any, else its set's."""
    return tuple(features) or set_features(feature_set, columns)


def set_table() -> str:
    """The Markdown list of the feature sets (README and docs/features.md show it)."""
    return "\n".join(f"- `{s.name}`: {s.description}" for s in FEATURE_SETS.values())


if __name__ == "__main__":  # python -m alpha_core.features.sets: the docs' list of sets
    print(set_table())
