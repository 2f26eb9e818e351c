"""Limits every construction of books obeys (declared once, shared by rank books and the
optimiser)."""

from __future__ import annotations

from dataclasses import dataclass

from alpha_core.base.settings import setting


@dataclass(frozen=True)
class LimitSettings:
    """The cap on any single name's weight."""

    max_weight: float | None = setting(
        None,
        label="Max |weight| per asset",
        lo=0,
        hi=10,
        closed="right",
        step=0.01,
        fmt="%.3f",
        section="Costs & limits",
        help="cap on any single |weight|; rank books give the excess to the uncapped names of "
        "the side, the optimiser holds it as a constraint",
    )
