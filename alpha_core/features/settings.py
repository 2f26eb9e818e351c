"""The features stage's settings: the label convention, the model inputs and their transforms."""

from __future__ import annotations

from dataclasses import dataclass

from alpha_core.base.settings import setting
from alpha_core.features import library, transforms


def _labels() -> tuple[str, ...]:
    return tuple(library.LABELS)


def _feature_sets() -> tuple[str, ...]:
    return tuple(library.FEATURE_SETS)


def _feature_names() -> tuple[str, ...]:
    return tuple(library.all_feature_names())


def _label_transforms() -> tuple[str, ...]:
    return tuple(transforms.LABEL_TRANSFORMS)


def _feature_transforms() -> tuple[str, ...]:
    return tuple(transforms.FEATURE_TRANSFORMS)


@dataclass(frozen=True)
class FeatureSettings:
    """What the model reads and what it learns: features, label and training target."""

    label: str = setting(
        "close_to_close",
        label="Label convention",
        choices=_labels,
        section="Windows",
        help="close_to_close: decide at close t, earn close t -> t+1. open_to_open: decide "
        "at close t, trade at the next open, earn open t+1 -> t+2.",
    )
    feature_set: str = setting(
        "seed12",
        label="Feature set",
        choices=_feature_sets,
        section="Model",
        help="seed12: the seed's 12 features; alpha158: Qlib's Alpha158 (docs/alpha158.md)",
    )
    features: tuple[str, ...] = setting(
        (),
        label="Feature subset",
        choices=_feature_names,
        section="Model",
        advanced=True,
        help="model inputs from either library, comma separated (empty: the feature set's)",
    )
    label_transform: str = setting(
        "raw",
        label="Training target",
        choices=_label_transforms,
        section="Model",
        help="raw: the return; demean: minus the date's mean; rank: the date's centred rank; "
        "zscore: the date's z-score. Metrics always use the raw realised return",
    )
    feature_transform: str = setting(
        "raw",
        label="Feature transform",
        choices=_feature_transforms,
        section="Model",
        help="raw or per-date cross-sectional rank (month, day_of_week, sector_id stay raw)",
    )
    target_horizon: int = setting(
        1,
        label="Training target horizon (days)",
        lo=1,
        hi=60,
        section="Model",
        advanced=True,
        help="train on the return over this many bars (entered as the label convention "
        "enters, e.g. close t -> close t+h); books still earn the next bar's return and the "
        "metrics use it. Training rows are purged until the target's return is known. "
        "1: the label itself",
    )

    @property
    def label_horizon(self) -> int:
        """Trading days from the decision close to the end of the label's return."""
        return library.LABELS[self.label].horizon
