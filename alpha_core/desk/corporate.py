"""Corporate actions: splits and delistings the data and the holdings do not reflect yet.

:func:`read_actions` reads ``asset, date, ratio`` (``ratio``: the split ratio, 2 for a 2:1
split, 0.5 for a 1:2 reverse split; or the word ``delisted``) as untrusted input, like the
holdings (:func:`alpha_core.desk.orders.read_holdings`): a regular file only, every value
checked, each problem one :class:`CorporateActionsError` line naming the file, the row and
the column.

:func:`adjust` applies the actions dated on or before the decision date, before the book is
formed:

* a split of ratio ``r`` on ``D``: the asset's bars before ``D`` have their prices divided by
  ``r`` and their volume multiplied by ``r``, and the quantity held is multiplied by ``r``
  (holdings given as weights are values and do not change);
* a delisting on ``D``: the asset's bars from ``D`` on are dropped (it is neither scored nor
  priced) and its holding is removed: the position is closed by the delisting itself, so no
  order is priced on a missing bar; it is reported.

List only actions that the data and the holdings do not reflect yet: an action applied twice
doubles the adjustment.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.desk.orders import _NUMBER, OrdersError, source_text

DELISTED = "delisted"
MAX_RATIO = 1000.0
"""Largest split ratio (and smallest 1/ratio) accepted: beyond it a ratio is a typo."""
PRICE_COLUMNS = ("open", "high", "low", "close")


class CorporateActionsError(OrdersError):
    """A corporate-actions file that cannot be used."""


@dataclass(frozen=True)
class Action:
    asset: str
    day: date
    ratio: float | None
    """The split ratio; None for a delisting."""

    @property
    def delisting(self) -> bool:
        return self.ratio is None

    def describe(self) -> str:
        if self.delisting:
            return f"{self.asset} delisted {self.day}"
        r = self.ratio or 1.0
        text = f"{r:g}:1 split" if r >= 1 else f"1:{1 / r:g} reverse split"
        return f"{self.asset} {text} on {self.day}"


def read_actions(source: str | Path | bytes, name: str | None = None) -> list[Action]:
    """The actions of a CSV path or CSV bytes (``asset, date, ratio``; other columns are
    ignored). An asset may not have two actions on one date, nor any after its delisting."""
    try:
        name, _, text = source_text(source, name, "corporate actions")
    except OrdersError as exc:
        raise CorporateActionsError(str(exc)) from None
    rows = csv.reader(io.StringIO(text, newline=""))
    out: list[Action] = []
    try:
        header = next(rows, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(rows, None)
        if header is None:
            raise CorporateActionsError(f"{name}: file is empty")
        names = [h.strip().lower() for h in header]
        where = f"{name}: line {rows.line_num} (the header)"
        for column in ("asset", "date", "ratio"):
            if names.count(column) != 1:
                raise CorporateActionsError(
                    f"{where}: needs exactly one column '{column}' (asset, date, ratio)"
                )
        index = {k: names.index(k) for k in ("asset", "date", "ratio")}
        seen: dict[tuple[str, date], int] = {}
        row_no, line = 0, rows.line_num
        for fields in rows:
            start, line = line + 1, rows.line_num
            if not any(f.strip() for f in fields):
                continue
            row_no += 1
            where = f"{name}: row {row_no} (line {start})"
            if len(fields) != len(names):
                raise CorporateActionsError(
                    f"{where}, column {min(len(fields), len(names)) + 1}: the row has "
                    f"{len(fields)} fields, the header {len(names)}"
                )
            asset = fields[index["asset"]].strip()
            if not asset:
                raise CorporateActionsError(f"{where}, column 'asset': blank")
            day = _date(fields[index["date"]], where)
            ratio = _ratio(fields[index["ratio"]], where)
            if (asset, day) in seen:
                raise CorporateActionsError(
                    f"{where}, column 'date': a second action for {asset!r} on {day} (row "
                    f"{seen[asset, day]})"
                )
            seen[asset, day] = row_no
            out.append(Action(asset, day, ratio))
    except csv.Error as exc:
        where = f"{name}: line {rows.line_num}"
        raise CorporateActionsError(f"{where}: not valid CSV ({exc})") from None
    for a in out:
        ends = [b.day for b in out if b.asset == a.asset and b.delisting]
        if ends and a.day > min(ends):
            raise CorporateActionsError(
                f"{name}: {a.describe()} comes after its delisting on {min(ends)}"
            )
    return sorted(out, key=lambda a: (a.day, a.asset))


def _date(text: str, where: str) -> date:
    value = text.strip()
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise CorporateActionsError(
            f"{where}, column 'date': {value[:40]!r} is not a date (YYYY-MM-DD)"
        ) from None


def _ratio(text: str, where: str) -> float | None:
    value = text.strip()
    if value.lower() == DELISTED:
        return None
    if not value:
        raise CorporateActionsError(f"{where}, column 'ratio': blank (a split ratio or "
                                    f"'{DELISTED}')")  # fmt: skip
    if not _NUMBER.fullmatch(value):
        raise CorporateActionsError(
            f"{where}, column 'ratio': {value[:40]!r} is not a number or '{DELISTED}'"
        )
    ratio = float(value)
    if not math.isfinite(ratio) or ratio <= 0 or ratio == 1:
        raise CorporateActionsError(
            f"{where}, column 'ratio': {value[:40]!r} is not a split ratio (positive, not 1)"
        )
    if ratio > MAX_RATIO or ratio < 1 / MAX_RATIO:
        raise CorporateActionsError(
            f"{where}, column 'ratio': {value[:40]!r} is out of range (1/{MAX_RATIO:g} .. "
            f"{MAX_RATIO:g})"
        )
    return ratio


@dataclass(frozen=True)
class Adjusted:
    """The panel and holdings after the actions, and what was done."""

    panel: pl.DataFrame
    holdings: pl.DataFrame | None
    applied: list[dict[str, Any]]
    """One entry per action applied: ``asset, date, action, held_before, held_after``."""

    @property
    def delisted(self) -> list[str]:
        return [a["asset"] for a in self.applied if a["action"] == DELISTED]


def adjust(
    panel: pl.DataFrame,
    actions: list[Action],
    as_of: date,
    holdings: pl.DataFrame | None = None,
) -> Adjusted:
    """Apply the actions dated on or before ``as_of`` to the panel and the holdings."""
    held = _held(holdings)
    applied = []
    prices = [c for c in PRICE_COLUMNS if c in panel.columns]
    for action in (a for a in actions if a.day <= as_of):
        is_asset = pl.col("asset") == action.asset
        before = held.get(action.asset)
        if action.delisting:
            panel = panel.filter(~(is_asset & (pl.col("date") >= action.day)))
            after = 0.0 if before is not None else None
            if holdings is not None:
                holdings = holdings.filter(pl.col("asset") != action.asset)
                held.pop(action.asset, None)
            kind = DELISTED
        else:
            r = float(action.ratio or 1.0)
            earlier = is_asset & (pl.col("date") < action.day)
            changes = [pl.when(earlier).then(pl.col(c) / r).otherwise(pl.col(c)).alias(c)
                       for c in prices]  # fmt: skip
            if "volume" in panel.columns:
                changes.append(
                    pl.when(earlier).then(pl.col("volume") * r).otherwise(pl.col("volume"))
                )
            panel = panel.with_columns(changes)
            after = before * r if before is not None else None
            if holdings is not None and "quantity" in holdings.columns and before is not None:
                holdings = holdings.with_columns(
                    pl.when(pl.col("asset") == action.asset)
                    .then(pl.col("quantity") * r)
                    .otherwise(pl.col("quantity"))
                    .alias("quantity")
                )
                held[action.asset] = after
            kind = "split"
        applied.append({
            "asset": action.asset, "date": action.day.isoformat(), "action": kind,
            "ratio": action.ratio, "describe": action.describe(),
            "held_before": before, "held_after": after,
        })  # fmt: skip
    return Adjusted(panel, holdings, applied)


def _held(holdings: pl.DataFrame | None) -> dict[str, float]:
    if holdings is None or "quantity" not in holdings.columns:
        return {}
    return dict(zip(holdings["asset"].to_list(), holdings["quantity"].to_list(), strict=True))
