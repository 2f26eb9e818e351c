"""One object that fully describes a run, so any run can be reproduced from its JSON.

A :class:`RunConfig` is immutable, serialises to plain JSON (``to_dict`` / ``from_dict``)
and validates itself (``validate``) with messages that name the offending field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

LABEL_CONVENTIONS = ("close_to_close", "open_to_open")
"""close_to_close: decide at close t, earn close t -> close t+1 (horizon 1 day).
open_to_open: decide at close t, trade at the next open, earn open t+1 -> open t+2 (horizon 2)."""


WALK_FORWARD_MODES = ("none", "monthly", "quarterly", "days")
"""none: one model trained on [train_start, train_end]; monthly/quarterly: retrain before each
calendar month/quarter of the test window; days: retrain every ``retrain_days`` trading days."""
WINDOWS = ("expanding", "rolling")
LABEL_TRANSFORMS = ("raw", "demean", "rank")
FEATURE_TRANSFORMS = ("raw", "rank")
SIZINGS = ("equal", "rank", "score", "inverse_vol")
LIMIT_GROUPS = ("sector", "asset_class")


class ConfigError(ValueError):
    """A run configuration that cannot be run; the message names the field."""


@dataclass(frozen=True)
class ModelParams:
    """LightGBM parameters; defaults are the founding document's configuration.

    ``bagging_freq`` is 1 so that ``bagging_fraction`` takes effect (LightGBM ignores
    bagging when the frequency is 0, as in the seed's ``LGBMRegressor`` call).
    """

    n_estimators: int = 500
    learning_rate: float = 0.05
    max_depth: int = 6
    num_leaves: int = 50
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    min_data_in_leaf: int = 20
    max_bin: int = 255
    num_threads: int = 0
    early_stopping_rounds: int = 0
    """Stop when the validation tail's L2 has not improved for this many rounds (0: off)."""
    valid_fraction: float = 0.0
    """Share of the training window's last dates held out (purged) as a validation tail."""

    def validate(self) -> None:
        if self.n_estimators < 1:
            raise ConfigError(f"model.n_estimators must be >= 1, got {self.n_estimators}")
        if not 0 < self.learning_rate <= 1:
            raise ConfigError(f"model.learning_rate must be in (0, 1], got {self.learning_rate}")
        if self.num_leaves < 2:
            raise ConfigError(f"model.num_leaves must be >= 2, got {self.num_leaves}")
        for name in ("feature_fraction", "bagging_fraction"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"model.{name} must be in (0, 1], got {value}")
        if self.max_bin < 2:
            raise ConfigError(f"model.max_bin must be >= 2, got {self.max_bin}")
        if not 0 <= self.valid_fraction < 0.5:
            raise ConfigError(
                f"model.valid_fraction must be in [0, 0.5), got {self.valid_fraction}"
            )
        if self.early_stopping_rounds < 0:
            raise ConfigError(
                f"model.early_stopping_rounds must be >= 0, got {self.early_stopping_rounds}"
            )
        if self.early_stopping_rounds and not self.valid_fraction:
            raise ConfigError("model.early_stopping_rounds needs model.valid_fraction > 0")


SEED_PRESET = ModelParams()
"""The founding document's LightGBM configuration (500 trees at 0.05, 255 bins)."""

FAST_PRESET = ModelParams(
    n_estimators=300,
    learning_rate=0.1,
    max_bin=63,
    early_stopping_rounds=30,
    valid_fraction=0.1,
)
"""Research-loop preset: coarser bins, fewer trees at a higher rate, early stopping on a
purged, time-ordered validation tail (the last 10% of training dates). Its speed and
out-of-sample rank IC against :data:`SEED_PRESET` are measured by ``bench/bench_model.py``."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on. Defaults reproduce the founding document's experiment."""

    data: str = "demo"
    metadata: str | None = None
    train_start: date = date(2000, 1, 4)
    train_end: date = date(2024, 10, 1)
    test_start: date = date(2024, 10, 2)
    test_end: date = date(2025, 3, 27)
    label: str = "close_to_close"
    features: tuple[str, ...] = ()
    model: ModelParams = field(default_factory=ModelParams)
    long_pct: float = 0.2
    short_pct: float = 0.2
    seed: int = 42
    shuffle_labels: bool = False
    name: str = ""

    # ------------------------------------------------------------ walk-forward
    walk_forward: str = "none"
    """Retraining schedule over [test_start, test_end], one of WALK_FORWARD_MODES. Each fold
    trains only on rows whose label ends before its test block (minus the embargo)."""
    retrain_days: int = 21
    """Trading days per test block when ``walk_forward == "days"``."""
    window: str = "expanding"
    """Training window of each fold: "expanding" from train_start, or "rolling"."""
    window_days: int = 756
    """Length in trading days of a rolling training window (ignored when expanding)."""
    embargo_days: int = 0
    """Trading days left out between the last training label and each test block, on top
    of the purge (labels must end before the block). Applies to single-split runs too."""

    # -------------------------------------------------------------- transforms
    label_transform: str = "raw"
    """Training target: "raw" return, per-date "demean"ed, or per-date centred "rank" in
    (0, 1) minus 0.5. Metrics always use the raw realised return."""
    feature_transform: str = "raw"
    """"raw" or per-date cross-sectional "rank" (month, day_of_week, sector_id stay raw)."""

    # ------------------------------------------------------------------- costs
    cost_bps: float = 0.0
    """Proportional trading cost in basis points per unit of turnover (sum |w_t - w_t-1|)."""
    borrow_bps: float = 0.0
    """Borrow fee on the short book in basis points per year (daily: bps / 1e4 / 252 x short
    gross)."""

    # ------------------------------------------------------- sizing and limits
    sizing: str = "equal"
    """Weights within a side: "equal", "rank" (proportional to |rank - 0.5|), "score"
    (proportional to |prediction - the date's median prediction|) or "inverse_vol"
    (proportional to 1 / vol_20 at the decision date)."""
    gross_long: float = 1.0
    """Target gross exposure of the long side (weights sum to +gross_long)."""
    gross_short: float = 1.0
    """Target gross exposure of the short side (weights sum to -gross_short); equal to
    gross_long (the default) makes the book dollar-neutral."""
    max_weight: float | None = None
    """Cap on any single |weight|; the excess goes to the uncapped names of the same side."""
    max_sector_weight: float | None = None
    """Cap on the gross weight of one group (``limit_group``) within a side."""
    limit_group: str = "sector"
    """Grouping for ``max_sector_weight`` and ``sector_neutral``: "sector" or "asset_class"."""
    sector_neutral: bool = False
    """Rank predictions within each group (``limit_group``) per date instead of across all."""

    # --------------------------------------------------------------- statistics
    n_trials: int = 1
    """Number of runs compared (for the deflated Sharpe ratio); the app passes the registry
    size."""

    # ---------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first field that makes the run impossible."""
        if self.label not in LABEL_CONVENTIONS:
            raise ConfigError(f"label must be one of {LABEL_CONVENTIONS}, got {self.label!r}")
        if self.train_start > self.train_end:
            raise ConfigError(
                f"train window is empty: train_start {self.train_start} is after "
                f"train_end {self.train_end}"
            )
        if self.test_start > self.test_end:
            raise ConfigError(
                f"test window is empty: test_start {self.test_start} is after "
                f"test_end {self.test_end}"
            )
        if self.test_start <= self.train_end:
            raise ConfigError(
                f"test_start {self.test_start} must be after train_end {self.train_end} "
                "(test before or inside train)"
            )
        self.model.validate()
        self.validate_research()

    def validate_research(self) -> None:
        """Checks of the book, walk-forward, transform, cost, sizing and statistics fields."""
        for name in ("long_pct", "short_pct"):
            value = getattr(self, name)
            if not 0 < value <= 0.5:
                raise ConfigError(f"{name} must be in (0, 0.5], got {value}")
        choices = {
            "walk_forward": WALK_FORWARD_MODES,
            "window": WINDOWS,
            "label_transform": LABEL_TRANSFORMS,
            "feature_transform": FEATURE_TRANSFORMS,
            "sizing": SIZINGS,
            "limit_group": LIMIT_GROUPS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name, low in (("retrain_days", 1), ("window_days", 20), ("embargo_days", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("cost_bps", "borrow_bps"):
            value = getattr(self, name)
            if not 0 <= value <= 10_000:
                raise ConfigError(f"{name} must be in [0, 10000], got {value}")
        for name in ("gross_long", "gross_short"):
            value = getattr(self, name)
            if not 0 < value <= 10:
                raise ConfigError(f"{name} must be in (0, 10], got {value}")
        for name in ("max_weight", "max_sector_weight"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 10:
                raise ConfigError(f"{name} must be in (0, 10] or None, got {value}")
        if not isinstance(self.n_trials, int) or self.n_trials < 1:
            raise ConfigError(f"n_trials must be an integer >= 1, got {self.n_trials!r}")

    @property
    def label_horizon(self) -> int:
        """Trading days from the decision close to the end of the label's return."""
        return 1 if self.label == "close_to_close" else 2

    # ------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, date):
                value = value.isoformat()
            elif dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            default = getattr(cls(), key)
            if isinstance(default, date) and isinstance(value, str):
                try:
                    value = date.fromisoformat(value)
                except ValueError as exc:
                    raise ConfigError(f"{key}: not an ISO date: {value!r}") from exc
            elif key == "model" and isinstance(value, dict):
                model_known = {f.name for f in fields(ModelParams)}
                bad = sorted(set(value) - model_known)
                if bad:
                    raise ConfigError(f"unknown model keys: {', '.join(bad)}")
                value = ModelParams(**value)
            elif isinstance(default, tuple) and isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def fingerprint(self) -> str:
        """Short stable hash of the configuration (the name is excluded)."""
        payload = self.to_dict()
        payload.pop("name", None)
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)
