"""The research stage's settings: the windows, walk-forward retraining, selection, executor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from alpha_core.base.executor import EXECUTORS
from alpha_core.base.settings import ConfigError, names_of, setting
from alpha_core.research.schedules import SCHEDULES, WINDOWS

SELECTIONS: dict[str, str] = {
    "none": "train the settings given (their early stopping, if any, on the validation window)",
    "valid": "train CANDIDATES, keep the best by validation rank IC, refit it and test it",
}
"""Selection modes by name (the ``select`` setting)."""

WINDOW_FIELDS = ("train_start", "train_end", "test_start", "test_end")


@dataclass(frozen=True)
class ResearchSettings:
    """Train, validation and test windows; how folds retrain; how settings are chosen."""

    train_start: date = setting(date(2000, 1, 4), label="Train start", section="Windows")
    train_end: date = setting(date(2024, 10, 1), label="Train end", section="Windows")
    test_start: date = setting(date(2024, 10, 2), label="Test start", section="Windows")
    test_end: date = setting(date(2025, 3, 27), label="Test end", section="Windows")
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
    walk_forward: str = setting(
        "none",
        label="Walk-forward retraining",
        choices=names_of(SCHEDULES),
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
        choices=names_of(WINDOWS),
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
    select: str = setting(
        "none",
        label="Model selection",
        choices=names_of(SELECTIONS),
        section="Model",
        help="none: train the settings given; valid: train the documented candidates "
        "(alpha_core.research.selection) before the validation window, keep the best by its "
        "mean daily rank IC there, refit it on the whole training span and test it",
    )
    select_race: bool = setting(
        True,
        label="Race the candidates",
        section="Model",
        advanced=True,
        help="with select valid: a candidate goes past a quarter of its trees only while its "
        "best validation rank IC so far is in the top half of the candidates' there "
        "(asynchronous successive halving); the winner's trees are never cut",
    )
    executor: str = setting(
        "serial",
        label="Executor",
        choices=names_of(EXECUTORS),
        section="Model",
        advanced=True,
        help="where walk-forward folds train: serial (this process), process (one worker per "
        "core) or ray (a Ray cluster; pip install 'alpha-lab[ray]'); every backend gives the "
        "same predictions (docs/scale.md)",
    )

    def validate_windows(self) -> None:
        """Raise :class:`ConfigError` when the windows overlap or are out of order."""
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
