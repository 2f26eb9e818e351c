"""Retraining schedules and training windows of walk-forward, by name.

:data:`SCHEDULES` cut the test window's trading dates into blocks, one model each (the
``walk_forward`` setting); :data:`WINDOWS` place a fold's first training date (the
``window`` setting). Pure date arithmetic, so the settings can offer the names without
importing the training loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

Schedule = Callable[[list[date], int], list[list[date]]]
"""``schedule(test_dates, retrain_days) -> blocks`` of consecutive test dates."""


def _whole(test_dates: list[date], _retrain_days: int) -> list[list[date]]:
    return [test_dates]


def _every_n_days(test_dates: list[date], retrain_days: int) -> list[list[date]]:
    return [test_dates[i : i + retrain_days] for i in range(0, len(test_dates), retrain_days)]


def _calendar(key: Callable[[date], tuple[int, int]]) -> Schedule:
    def blocks(test_dates: list[date], _retrain_days: int) -> list[list[date]]:
        out: list[list[date]] = []
        for i, d in enumerate(test_dates):
            if i and key(d) == key(test_dates[i - 1]):
                out[-1].append(d)
            else:
                out.append([d])
        return out

    return blocks


SCHEDULES: dict[str, Schedule] = {
    "none": _whole,
    "monthly": _calendar(lambda d: (d.year, d.month)),
    "quarterly": _calendar(lambda d: (d.year, (d.month - 1) // 3)),
    "days": _every_n_days,
}
"""Retraining schedules by name (the ``walk_forward`` setting). Adding an entry here adds
the option to the run config, the CLI and the Train page."""


TrainingWindow = Callable[[int, int, int], int]
"""``window(first, last, window_days) -> first`` date index of a fold's training window."""

WINDOWS: dict[str, TrainingWindow] = {
    "expanding": lambda first, _last, _days: first,
    "rolling": lambda first, last, days: max(first, last - days + 1),
}
"""Training windows by name (the ``window`` setting)."""
