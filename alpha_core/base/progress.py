"""Structured progress events: what a long engine call reports while it works.

The engine emits :class:`Progress` values through a :data:`OnProgress` callback; front ends
display them (the CLI prints ``message``, the app draws ``fraction`` and ``step/total``).
Nobody parses text: every number a front end shows is a field here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One step of a run. ``fold`` counts from 0; ``step``/``total`` count trees (or rows)."""

    stage: str
    """features | training | predicting | books | saving | explaining | done"""
    fraction: float = 0.0
    """Share of the whole run done, 0..1."""
    fold: int = 0
    n_folds: int = 1
    step: int = 0
    total: int = 0
    message: str = ""

    def text(self) -> str:
        """A one-line description for people (the CLI and the app's captions)."""
        if self.message:
            return self.message
        if self.stage == "training" and self.total:
            where = "training" if self.n_folds == 1 else f"fold {self.fold + 1}/{self.n_folds}"
            return f"{where}: {self.step}/{self.total} trees"
        return self.stage.replace("_", " ")


OnProgress = Callable[[Progress], None]
"""The one progress callback type of the engine."""


def ignore(_event: Progress) -> None:
    """The default callback: report nothing."""
