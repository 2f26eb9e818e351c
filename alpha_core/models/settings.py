"""The models stage's settings: the model type, its parameters and the seed."""

from __future__ import annotations

from dataclasses import dataclass, field

from alpha_core.base.settings import setting
from alpha_core.models import base
from alpha_core.models.lightgbm.params import ModelParams


def _model_types() -> tuple[str, ...]:
    return tuple(base.model_types())


@dataclass(frozen=True)
class ModelSettings:
    """Which model is fitted, with which parameters and seed (and the no-signal control)."""

    model_type: str = setting(
        "lightgbm",
        label="Model type",
        choices=_model_types,
        section="Model",
        help="the model implementation (alpha_core.models.base registry); the model fields below "
        "are LightGBM's",
    )
    model: ModelParams = field(default_factory=ModelParams)
    seed: int = setting(42, label="Seed", lo=0, hi=2**31 - 1, section="Model")
    shuffle_labels: bool = setting(
        False,
        label="Shuffle labels",
        section="Model",
        advanced=True,
        help="no-signal control run: labels shuffled within each date",
    )
