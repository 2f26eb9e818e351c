"""One object that fully describes a run, so any run can be reproduced from its JSON.

A :class:`RunConfig` is immutable, serialises to plain JSON (``to_dict`` / ``from_dict``)
and validates itself (``validate``) with a :class:`ConfigError` that names the field.

Every field is declared once with :func:`~alpha_core.base.settings.setting`: type (the
annotation), default, bounds or choices, label, help, Train-page section, CLI spelling and
widget hints. Single-field validation, the ``alpha run`` parser (:mod:`alpha_core.cli.main`) and
the Train form (:mod:`alpha_ui.config_form`) are all derived from these declarations, so a
new run setting is one declaration here. Rules between fields (window order, the validation
window inside the training span) are written out in ``validate``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from alpha_core.base.settings import (
    HIDDEN,
    SECTIONS,
    ConfigError,
    Setting,
    Spec,
    from_dict_of,
    get_path,
    replace_paths,
    setting,
    setting_for,
    settings,
    validate_fields,
)

__all__ = [
    "HIDDEN",
    "MODEL_PRESETS",
    "SECTIONS",
    "WINDOW_FIELDS",
    "ConfigError",
    "ModelParams",
    "ModelPreset",
    "RunConfig",
    "Setting",
    "Spec",
    "default_windows",
    "defaults_for_data",
    "get_path",
    "replace_paths",
    "setting",
    "setting_for",
    "settings",
    "validate_fields",
]


def options_of(module: str, table: str) -> Callable[[], tuple[str, ...]]:
    """The names of a registry table, read when asked (``choices`` of a setting).

    An option value lives with its implementation (e.g. ``books.SIZINGS``), so adding an
    entry there is all it takes to offer it in the config, the CLI and the Train page.
    Imported lazily because those modules import this one.
    """

    def names() -> tuple[str, ...]:
        found = getattr(importlib.import_module(module), table)
        return tuple(found() if callable(found) else found)

    names.__qualname__ = f"{module}.{table}"
    return names


LABEL_CONVENTIONS = options_of("alpha_core.features.library", "LABELS")
WALK_FORWARD_MODES = options_of("alpha_core.research.walkforward", "SCHEDULES")
WINDOWS = options_of("alpha_core.research.walkforward", "WINDOWS")
LABEL_TRANSFORMS = options_of("alpha_core.features.transforms", "LABEL_TRANSFORMS")
FEATURE_TRANSFORMS = options_of("alpha_core.features.transforms", "FEATURE_TRANSFORMS")
SIZINGS = options_of("alpha_core.portfolio.books", "SIZINGS")
LIMIT_GROUPS = options_of("alpha_core.signals.predictions", "GROUP_COLUMNS")
MODEL_TYPES = options_of("alpha_core.models.base", "model_types")
BAD_BAR_POLICIES = options_of("alpha_core.research.contract", "BAD_BAR_POLICIES")
FEATURE_SETS = options_of("alpha_core.features.library", "FEATURE_SETS")
FEATURE_NAMES = options_of("alpha_core.features.library", "all_feature_names")
SELECTIONS = options_of("alpha_core.research.selection", "SELECTIONS")
EXECUTORS = options_of("alpha_core.base.executor", "EXECUTORS")

WINDOW_FIELDS = ("train_start", "train_end", "test_start", "test_end")


# ------------------------------------------------------------------------------ the model
from alpha_core.models.lightgbm.params import (  # noqa: E402
    MODEL_PRESETS,
    ModelParams,
    ModelPreset,
)


# ------------------------------------------------------------------------------ the run
@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on. Defaults reproduce the founding document's experiment."""

    data: str = setting("demo", label="Data", help="'demo' or a path (CSV, Parquet, folder, zip)")
    metadata: str | None = setting(
        None, label="Metadata", help="CSV mapping asset to sector/asset_class"
    )
    train_start: date = setting(date(2000, 1, 4), label="Train start", section="Windows")
    train_end: date = setting(date(2024, 10, 1), label="Train end", section="Windows")
    test_start: date = setting(date(2024, 10, 2), label="Test start", section="Windows")
    test_end: date = setting(date(2025, 3, 27), label="Test end", section="Windows")
    label: str = setting(
        "close_to_close",
        label="Label convention",
        choices=LABEL_CONVENTIONS,
        section="Windows",
        help="close_to_close: decide at close t, earn close t -> t+1. open_to_open: decide "
        "at close t, trade at the next open, earn open t+1 -> t+2.",
    )
    features: tuple[str, ...] = setting(
        (),
        label="Feature subset",
        choices=FEATURE_NAMES,
        section="Model",
        advanced=True,
        help="model inputs from either library, comma separated (empty: the feature set's)",
    )
    model: ModelParams = field(default_factory=ModelParams)
    model_type: str = setting(
        "lightgbm",
        label="Model type",
        choices=MODEL_TYPES,
        section="Model",
        help="the model implementation (alpha_core.models.base registry); the model fields below "
        "are LightGBM's",
    )
    long_pct: float = setting(
        0.2,
        label="Long percentile (top)",
        lo=0,
        hi=0.5,
        closed="right",
        widget="percent",
        step=0.01,
        section="Books",
        help="share of assets bought each day",
    )
    short_pct: float = setting(
        0.2,
        label="Short percentile (bottom)",
        lo=0,
        hi=0.5,
        closed="right",
        widget="percent",
        step=0.01,
        section="Books",
        help="share of assets sold each day",
    )
    seed: int = setting(42, label="Seed", lo=0, hi=2**31 - 1, section="Model")
    shuffle_labels: bool = setting(
        False,
        label="Shuffle labels",
        section="Model",
        advanced=True,
        help="no-signal control run: labels shuffled within each date",
    )
    name: str = setting("", label="Run name", section="Books", help="display name of the run")

    # ------------------------------------------------------------ walk-forward
    walk_forward: str = setting(
        "none",
        label="Walk-forward retraining",
        choices=WALK_FORWARD_MODES,
        section="Windows",
        help="retraining schedule over the test window; each fold trains only on rows whose "
        "label ends before its test block (minus the embargo)",
    )
    retrain_days: int = setting(
        21,
        label="Days per block (walk-forward 'days')",
        lo=1,
        section="Windows",
        help="trading days per test block when walk_forward is 'days'",
    )
    window: str = setting(
        "expanding",
        label="Training window",
        choices=WINDOWS,
        section="Windows",
        help="each fold's training window: expanding from train_start, or rolling",
    )
    window_days: int = setting(
        756,
        label="Rolling window length (days)",
        lo=20,
        step=21,
        section="Windows",
        help="trading days of a rolling training window (ignored when expanding)",
    )
    embargo_days: int = setting(
        0,
        label="Embargo (days)",
        lo=0,
        section="Windows",
        help="trading days left out between the last training label and each test block, "
        "on top of the purge",
    )

    # -------------------------------------------------------------- transforms
    label_transform: str = setting(
        "raw",
        label="Training target",
        choices=LABEL_TRANSFORMS,
        section="Model",
        help="raw return, per-date demeaned, or per-date centred rank; metrics always use "
        "the raw realised return",
    )
    feature_transform: str = setting(
        "raw",
        label="Feature transform",
        choices=FEATURE_TRANSFORMS,
        section="Model",
        help="raw or per-date cross-sectional rank (month, day_of_week, sector_id stay raw)",
    )

    # ------------------------------------------------------------------- costs
    cost_bps: float = setting(
        0.0,
        label="Trading cost (bps per unit turnover)",
        lo=0,
        hi=10_000,
        step=1.0,
        fmt="%.1f",
        section="Costs & limits",
        help="proportional cost in basis points per unit of turnover (sum |w_t - w_t-1|)",
    )
    borrow_bps: float = setting(
        0.0,
        label="Borrow fee (bps per year)",
        lo=0,
        hi=10_000,
        step=10.0,
        fmt="%.1f",
        section="Costs & limits",
        help="fee on the short book, basis points per year",
    )

    # ------------------------------------------------------- sizing and limits
    sizing: str = setting(
        "equal",
        label="Sizing within a side",
        choices=SIZINGS,
        section="Books",
        help="equal; rank: |rank - 0.5|; score: |prediction - the date's median|; "
        "inverse_vol: 1 / vol_20 at the decision date",
    )
    gross_long: float = setting(
        1.0,
        label="Gross long",
        lo=0,
        hi=10,
        closed="right",
        step=0.1,
        fmt="%.2f",
        section="Costs & limits",
        help="long weights sum to +gross_long",
    )
    gross_short: float = setting(
        1.0,
        label="Gross short",
        lo=0,
        hi=10,
        closed="right",
        step=0.1,
        fmt="%.2f",
        section="Costs & limits",
        help="short weights sum to -gross_short (equal to gross_long: dollar-neutral)",
    )
    max_weight: float | None = setting(
        None,
        label="Max |weight| per asset",
        lo=0,
        hi=10,
        closed="right",
        step=0.01,
        fmt="%.3f",
        section="Costs & limits",
        help="cap on any single |weight|; the excess goes to the uncapped names of the side",
    )
    max_sector_weight: float | None = setting(
        None,
        label="Max gross per group",
        lo=0,
        hi=10,
        closed="right",
        step=0.05,
        fmt="%.3f",
        section="Costs & limits",
        help="cap on the gross weight of one group (limit_group) within a side",
    )
    limit_group: str = setting(
        "sector",
        label="Group for limits",
        choices=LIMIT_GROUPS,
        section="Costs & limits",
        help="grouping for the group cap and sector neutrality",
    )
    sector_neutral: bool = setting(
        False,
        label="Rank within each group",
        section="Costs & limits",
        help="rank predictions within each group (limit_group) per date instead of across all",
    )

    # --------------------------------------------------------------- statistics
    n_trials: int = setting(
        1,
        label="Runs compared (deflated Sharpe)",
        lo=1,
        section="Books",
        help="number of runs compared, for the deflated Sharpe ratio (a run with --select "
        "valid adds its other candidates)",
    )

    # ------------------------------------------------- feature set and model selection
    feature_set: str = setting(
        "seed12",
        label="Feature set",
        choices=FEATURE_SETS,
        section="Model",
        help="seed12: the seed's 12 features; alpha158: Qlib's Alpha158 (docs/alpha158.md)",
    )
    valid_start: date | None = setting(
        None,
        label="Validation start",
        section="Windows",
        advanced=True,
        help="first date of the validation window inside the training span (default: six "
        "months before train_end); it chooses candidates and the number of trees",
    )
    valid_end: date | None = setting(
        None,
        label="Validation end",
        section="Windows",
        advanced=True,
        help="last date of the validation window (default: train_end)",
    )
    select: str = setting(
        "none",
        label="Model selection",
        choices=SELECTIONS,
        section="Model",
        help="none: train the settings given; valid: train the documented candidates "
        "(alpha_core.research.selection) before the validation window, keep the best by its mean daily "
        "rank IC there, refit it on the whole training span and test it",
    )

    # ------------------------------------------------------------ data contract
    on_bad_bars: str = setting(
        "refuse",
        label="Bad bars",
        choices=BAD_BAR_POLICIES,
        section="Windows",
        help="bars with missing, infinite or non-positive prices, OHLC out of order, negative "
        "volume or on stray dates: refuse (stop and name them), drop (train without them; "
        "the run reports what it lost) or keep (train on them as they are)",
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

    # ------------------------------------------------------------------ execution
    executor: str = setting(
        "serial",
        label="Executor",
        choices=EXECUTORS,
        section="Model",
        advanced=True,
        help="where walk-forward folds train: serial (this process), process (one worker per "
        "core) or ray (a Ray cluster; pip install 'alpha-lab[ray]'); every backend gives the "
        "same predictions (docs/scale.md)",
    )

    # ------------------------------------------------------------ turnover control
    rebalance_every: int = setting(
        1,
        label="Rebalance every (days)",
        lo=1,
        section="Books",
        help="trade every k-th test date and hold the book (its weights) in between; "
        "1: every day (alpha_core.portfolio.turnover)",
    )
    hold_buffer: float = setting(
        0.0,
        label="Hold buffer",
        lo=0,
        hi=0.5,
        widget="percent",
        step=0.01,
        section="Books",
        help="a name enters the long book in the top long_pct and leaves it only below the top "
        "long_pct + buffer (the short book mirrors it); 0: no buffer",
    )
    smooth_days: int = setting(
        1,
        label="Smooth predictions over (days)",
        lo=1,
        section="Books",
        help="rank each asset by the mean of its last N predictions (known at the decision "
        "date); 1: today's prediction alone",
    )
    max_turnover: float | None = setting(
        None,
        label="Max daily turnover",
        lo=0,
        hi=20,
        closed="right",
        step=0.05,
        fmt="%.2f",
        section="Costs & limits",
        help="cap on sum |w_t - w_t-1| per day: the trade is scaled towards the target book "
        "so that it holds (empty: no cap)",
    )

    # ---------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first field that makes the run impossible."""
        validate_fields(self)
        if self.train_start > self.train_end:
            raise ConfigError(
                f"train window is empty: train_start {self.train_start} is after "
                f"train_end {self.train_end}",
                field="train_start",
            )
        if self.test_start > self.test_end:
            raise ConfigError(
                f"test window is empty: test_start {self.test_start} is after "
                f"test_end {self.test_end}",
                field="test_start",
            )
        if self.test_start <= self.train_end:
            raise ConfigError(
                f"test_start {self.test_start} must be after train_end {self.train_end} "
                "(test before or inside train)",
                field="test_start",
            )
        self._validate_validation_window()
        self.model.validate()

    def _validate_validation_window(self) -> None:
        start, end = self.valid_start, self.valid_end
        if start is not None and not self.train_start < start <= self.train_end:
            raise ConfigError(
                f"valid_start {start} must be inside the training span "
                f"({self.train_start} .. {self.train_end}], after train_start",
                field="valid_start",
            )
        if end is not None and not self.train_start < end <= self.train_end:
            raise ConfigError(
                f"valid_end {end} must be inside the training span "
                f"({self.train_start} .. {self.train_end}]",
                field="valid_end",
            )
        if start is not None and end is not None and start > end:
            raise ConfigError(
                f"validation window is empty: valid_start {start} is after valid_end {end}",
                field="valid_start",
            )

    @property
    def label_horizon(self) -> int:
        """Trading days from the decision close to the end of the label's return."""
        return importlib.import_module("alpha_core.features.library").LABELS[self.label].horizon

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
    def from_dict(cls, raw: Mapping[str, Any]) -> RunConfig:
        return from_dict_of(cls, raw)

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

    def auto_name(self) -> str:
        """A display name from the settings that tell runs apart, for a run saved without
        a name: ``seed12 · fast · zscore · L20%/S20% · 5 bps · test 2016-07-01..2018-01-31``."""
        preset = next((k for k, p in MODEL_PRESETS.items() if p.params == self.model), None)
        model = preset or f"{self.model.n_estimators} trees, {self.model.num_leaves} leaves"
        features = f"{len(self.features)} features" if self.features else self.feature_set
        parts = [features, model]
        if self.select != "none":
            parts.append(f"select {self.select}")
        if self.label_transform != "raw":
            parts.append(self.label_transform)
        if self.walk_forward != "none":
            parts.append(f"{self.walk_forward} walk-forward")
        parts.append(f"L{self.long_pct:.0%}/S{self.short_pct:.0%}")
        if self.cost_bps:
            parts.append(f"{self.cost_bps:g} bps")
        parts.append(f"test {self.test_start}..{self.test_end}")
        return " · ".join(parts)


# ----------------------------------------------------------- defaults for a dataset
def default_windows(dates: Sequence[date], test_days: int = 126) -> dict[str, date]:
    """Test on the last ``test_days`` of the sorted trading ``dates``, train on those before."""
    if len(dates) < test_days + 60:
        raise ConfigError(
            f"the data has {len(dates)} trading dates; give --train/--test dates explicitly"
        )
    return {
        "train_start": dates[0],
        "train_end": dates[-test_days - 2],
        "test_start": dates[-test_days],
        "test_end": dates[-1],
    }


def defaults_for_data(
    dates: Sequence[date],
    *,
    demo: bool,
    saved_runs: int,
    base: RunConfig | None = None,
    strict: bool = False,
) -> RunConfig:
    """The config a new run on this data starts from, in the CLI and on the Train page.

    ``dates`` are the data's sorted trading dates. The demo keeps the seed's windows; other
    data tests on its last 126 dates (:func:`default_windows`); either is clamped into the
    data's span. ``n_trials`` counts the ``saved_runs`` plus this one. Data too short for
    default windows falls back to ``base``'s windows clamped, or raises when ``strict``.
    """
    base = base or RunConfig()
    windows = {f: getattr(base, f) for f in WINDOW_FIELDS}
    if not demo:
        try:
            windows = default_windows(dates)
        except ConfigError:
            if strict:
                raise
    if dates:
        lo, hi = dates[0], dates[-1]
        windows = {f: min(max(value, lo), hi) for f, value in windows.items()}
    return dataclasses.replace(base, **windows, n_trials=saved_runs + 1)
