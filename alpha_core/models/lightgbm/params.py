"""LightGBM's parameters and its named presets, declared once (validation, CLI, Train form).

Defaults are the founding document's configuration; the ``fast`` preset is the research
loop's (early stopping on the validation window).
"""

from __future__ import annotations

from dataclasses import dataclass

from alpha_core.base.settings import setting, validate_fields


@dataclass(frozen=True)
class ModelParams:
    """LightGBM parameters; defaults are the founding document's configuration.

    ``bagging_freq`` is 1 so that ``bagging_fraction`` takes effect (LightGBM ignores
    bagging when the frequency is 0, as in the seed's ``LGBMRegressor`` call).
    """

    n_estimators: int = setting(500, label="Trees", lo=1, step=10, section="Model")
    learning_rate: float = setting(
        0.05,
        label="Learning rate",
        lo=0,
        hi=1,
        closed="right",
        step=0.01,
        fmt="%.3f",
        section="Model",
    )
    max_depth: int = setting(6, label="Max depth (-1: none)", lo=-1, section="Model")
    num_leaves: int = setting(50, label="Leaves per tree", lo=2, section="Model")
    feature_fraction: float = setting(
        0.8,
        label="Feature fraction",
        lo=0,
        hi=1,
        closed="right",
        widget="slider",
        step=0.05,
        section="Model",
    )
    bagging_fraction: float = setting(
        0.8,
        label="Bagging fraction",
        lo=0,
        hi=1,
        closed="right",
        widget="slider",
        step=0.05,
        section="Model",
    )
    bagging_freq: int = setting(
        1,
        label="Bagging frequency",
        lo=0,
        section="Model",
        advanced=True,
        help="bag every k iterations (0: bagging off)",
    )
    min_data_in_leaf: int = setting(
        20, label="Min rows per leaf", lo=0, section="Model", advanced=True
    )
    max_bin: int = setting(255, label="Histogram bins", lo=2, section="Model", advanced=True)
    num_threads: int = setting(
        0, label="Threads (0: LightGBM's default)", lo=0, section="Model", advanced=True
    )
    early_stopping_rounds: int = setting(
        0,
        label="Early stopping rounds (0: off)",
        lo=0,
        section="Model",
        help="stop when the validation window's mean daily rank IC has not improved for this "
        "many trees (checked every 10 trees); the run's models are then refit on the whole "
        "training span with the best number of trees",
    )
    valid_fraction: float = setting(
        0.0,
        label="Validation tail fraction",
        lo=0,
        hi=0.5,
        closed="left",
        step=0.05,
        fmt="%.2f",
        section="Model",
        advanced=True,
        help="legacy (runs saved before the validation window): early stopping on L2 over this "
        "share of each fold's last training dates, purged; 0 uses the run's validation window",
    )

    bin_construct_sample_cnt: int = setting(
        200_000,
        label="Rows sampled for the histogram bins",
        lo=1,
        section="Model",
        advanced=True,
        help="rows LightGBM samples to place the bin boundaries when it builds its dataset "
        "(its bin_construct_sample_cnt; 200,000 is LightGBM's default). Fewer rows build the "
        "dataset faster on large panels; the trees then split on slightly different bins",
    )

    def validate(self) -> None:
        validate_fields(self, "model.")


@dataclass(frozen=True)
class ModelPreset:
    """A named set of model parameters offered by the CLI and the Train page."""

    params: ModelParams
    summary: str
    help: str


SEED_PRESET = ModelParams()
"""The founding document's LightGBM configuration (500 trees at 0.05, 255 bins)."""

FAST_PRESET = ModelParams(
    n_estimators=300,
    learning_rate=0.1,
    max_bin=63,
    early_stopping_rounds=30,
)
"""Research-loop preset: coarser bins, at most 300 trees at a higher rate, early stopping on
the run's validation window (its mean daily rank IC, checked every 10 trees; the window is
the last six months of the training span by default, purged), then every model of the run is
refit with the best number of trees. Before the validation window it stopped on the L2 of the
last 10% of each fold's training dates, which kept 1 to 18 trees on the S&P 500."""

MODEL_PRESETS = {
    "seed": ModelPreset(SEED_PRESET, "500 trees", "the founding document's LightGBM"),
    "fast": ModelPreset(
        FAST_PRESET,
        "early stopping",
        "fewer, coarser trees, their number chosen by early stopping on the validation "
        "window (cheaper walk-forward folds)",
    ),
}

LightGBMParams = ModelParams
"""The same class under its model type's name."""
