"""Pre-trade checks: what must hold before the desk's orders may leave the building.

:func:`run_checks` judges the orders :func:`alpha_core.desk.orders.make_orders` formed (the
positions they lead to, their sizes and the bars that priced them) against the run's own
limits and the thresholds of :class:`CheckSettings` (the one place they are declared;
``docs/desk.md`` lists them). Each check (:data:`CHECKS`) gives a :class:`Failure` naming
the check, the asset(s) and the numbers. A failure refuses the orders (:class:`ChecksRefused`,
an :class:`~alpha_core.desk.orders.OrdersError`: ``alpha book`` exits with code 2 and writes
nothing) unless the check is overridden by name; overridden failures are returned so the
ledger line and the output record them. The kill switch (:func:`kill_switch_paths`) cannot be
overridden: remove its file.

* ``kill_switch``: a file ``<artifacts>/KILL``, or the path in ``ALPHA_KILL_SWITCH`` (or
  :attr:`CheckSettings.kill_switch`), exists: no order at all, its text is the reason;
* ``stale_bar``: a name held or targeted whose last bar is before the decision date;
* ``price_move``: close against the previous close beyond ``max_move``; ratios near 2, 3,
  10 (or their inverses) are named as a suspected unadjusted split or bad tick;
* ``gross``, ``net``: the resulting positions' gross and net notional against capital times
  the run's gross and net (rank books: ``gross_long + gross_short`` and ``gross_long -
  gross_short``; optimised books: ``max_gross`` and ``net_exposure``), with ``tolerance``;
* ``name``: one name's resulting |position| against capital times the run's ``max_weight``
  (else ``default_max_weight``), with ``tolerance``;
* ``participation``: an order's notional against the name's mean daily traded value
  (close x volume over its last ``adv_days`` bars up to the decision date).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from alpha_core.base.settings import setting, validate_fields
from alpha_core.desk.orders import OrdersError
from alpha_core.research.config import RunConfig

CHECKS = ("kill_switch", "stale_bar", "price_move", "gross", "net", "name", "participation")
"""Every pre-trade check, in the order they are reported."""
NOT_OVERRIDABLE = ("kill_switch",)
KILL_FILE = "KILL"
"""The kill switch's file name in the registry folder (``<artifacts>/KILL``)."""
KILL_ENV = "ALPHA_KILL_SWITCH"
"""Environment variable naming another kill-switch file."""
SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 10.0)
"""Price ratios that suggest an unadjusted split (or their inverses a reverse split)."""
SHOWN = 5
"""Assets named per failure (the rest are counted)."""


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds of the pre-trade checks (the desk's own, not a run's settings)."""

    tolerance: float = setting(
        0.05, label="Tolerance", lo=0, hi=1,
        help="slack on the gross, net and per-name limits (0.05: 5% above the limit passes)",
    )  # fmt: skip
    default_max_weight: float = setting(
        0.10, label="Default max |weight| per name", lo=0, hi=10, closed="right",
        help="per-name cap when the run sets no max_weight",
    )  # fmt: skip
    max_move: float = setting(
        0.25, label="Max price move", lo=0, closed="neither",
        help="largest close-to-close move: |close / previous close - 1|",
    )  # fmt: skip
    split_tolerance: float = setting(
        0.05, label="Split ratio tolerance", lo=0, hi=0.5,
        help="a move whose ratio is within this of 2, 3, 4, 5, 10 or an inverse is a "
        "suspected split",
    )  # fmt: skip
    max_participation: float = setting(
        0.10, label="Max participation", lo=0, closed="neither",
        help="largest order notional as a share of the name's mean daily traded value",
    )  # fmt: skip
    adv_days: int = setting(
        20, label="Traded value window (bars)", lo=1,
        help="bars of close x volume averaged for the daily traded value",
    )  # fmt: skip
    kill_switch: str | None = setting(
        None, label="Kill-switch file",
        help="a further kill-switch path (besides <artifacts>/KILL and $ALPHA_KILL_SWITCH)",
    )  # fmt: skip

    def __post_init__(self) -> None:
        validate_fields(self, "checks.")


@dataclass(frozen=True)
class Failure:
    """One check that does not hold: its name and a one-line reason with the numbers."""

    check: str
    reason: str
    assets: tuple[str, ...] = ()

    def text(self) -> str:
        return f"{self.check}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "reason": self.reason, "assets": list(self.assets)}


class ChecksRefused(OrdersError):
    """Orders refused by pre-trade checks; ``failures`` are those not overridden."""

    def __init__(self, failures: list[Failure]) -> None:
        names = [f.check for f in failures]
        fix = [n for n in dict.fromkeys(names) if n not in NOT_OVERRIDABLE]
        hint = f" (to trade anyway, override: {','.join(fix)})" if fix else ""
        text = "; ".join(f.text() for f in failures)
        super().__init__(f"pre-trade checks refused the orders: {text}{hint}")
        self.failures = failures


def parse_overrides(names: Iterable[str] | str | None) -> tuple[str, ...]:
    """Check names to skip (``"a,b"`` or a list); unknown names and the kill switch refused."""
    if names is None:
        return ()
    items = names.split(",") if isinstance(names, str) else list(names)
    out = tuple(dict.fromkeys(n.strip() for n in items if n.strip()))
    unknown = [n for n in out if n not in CHECKS]
    if unknown:
        raise OrdersError(f"unknown pre-trade checks to override: {unknown} (checks: "
                          f"{', '.join(CHECKS)})")  # fmt: skip
    locked = [n for n in out if n in NOT_OVERRIDABLE]
    if locked:
        raise OrdersError(f"{locked[0]} cannot be overridden: remove the kill-switch file")
    return out


# ----------------------------------------------------------------------------- kill switch
def kill_switch_paths(root: Path | None, settings: CheckSettings) -> list[Path]:
    """Where a kill-switch file blocks all orders: ``<root>/KILL``, ``$ALPHA_KILL_SWITCH``
    and :attr:`CheckSettings.kill_switch`."""
    paths = [Path(root) / KILL_FILE] if root is not None else []
    for extra in (os.environ.get(KILL_ENV), settings.kill_switch):
        if extra:
            paths.append(Path(extra))
    return list(dict.fromkeys(paths))


def _kill_reason(path: Path) -> str:
    """The first line of a kill-switch file's text (at most 200 characters)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            return "(not a regular file: no reason read)"
        with open(path, "rb") as f:
            data = f.read(4096)
    except OSError as exc:
        return f"(unreadable: {exc.strerror or exc})"
    text = data.decode("utf-8", "replace")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = "".join(c if c.isprintable() else " " for c in line)[:200]
    return line or "(no reason given)"


def check_kill_switch(root: Path | None, settings: CheckSettings) -> list[Failure]:
    out = []
    for path in kill_switch_paths(root, settings):
        if os.path.lexists(path):
            out.append(Failure("kill_switch", f"{path} exists: {_kill_reason(path)}"))
    return out


# ----------------------------------------------------------------------------- market facts
def _listing(items: list[str]) -> str:
    more = f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return "; ".join(items[:SHOWN]) + more


def last_bars(panel: pl.DataFrame, as_of: date, assets: list[str]) -> dict[str, date]:
    """Each asset's last bar date on or before ``as_of`` (assets without one left out)."""
    rows = (
        panel.filter(pl.col("date") <= as_of, pl.col("asset").is_in(assets))
        .group_by("asset")
        .agg(pl.col("date").max())
    )
    return dict(zip(rows["asset"].to_list(), rows["date"].to_list(), strict=True))


def market_facts(panel: pl.DataFrame, as_of: date, assets: list[str], days: int) -> pl.DataFrame:
    """``asset, close, prev_close, adv`` of each asset on ``as_of``: the close, the previous
    bar's close and the mean close x volume of its last ``days`` bars (null without volume)."""
    has_volume = "volume" in panel.columns
    value = pl.col("close") * pl.col("volume") if has_volume else pl.lit(None, pl.Float64)
    return (
        panel.filter(pl.col("date") <= as_of, pl.col("asset").is_in(assets))
        .sort("asset", "date")
        .group_by("asset", maintain_order=True)
        .agg(
            pl.col("date").last().alias("_last"),
            pl.col("close").last(),
            pl.col("close").tail(2).first().alias("prev_close"),
            pl.len().alias("_n"),
            value.tail(days).mean().alias("adv"),
        )
        .filter(pl.col("_last") == as_of)
        .with_columns(pl.when(pl.col("_n") > 1).then(pl.col("prev_close")).otherwise(None))
        .drop("_last", "_n")
    )


# ----------------------------------------------------------------------------- the checks
def check_stale(positions: pl.DataFrame, panel: pl.DataFrame, as_of: date) -> list[Failure]:
    """Names held or targeted whose last bar is before ``as_of`` (names the data never had
    are priced from the holdings' ``price`` column and are not judged here)."""
    names = positions["asset"].to_list()
    last = last_bars(panel, as_of, names)
    stale = sorted(a for a, d in last.items() if d < as_of)
    if not stale:
        return []
    items = [f"{a}: last bar {last[a]}, before the decision date {as_of}" for a in stale]
    return [Failure("stale_bar", _listing(items), tuple(stale))]


def split_hint(ratio: float, tolerance: float) -> str:
    """``suspected 2:1 split or bad tick`` for a ratio near 1/2, ``1:2 reverse split`` near
    2 ...; ``bad tick or missed corporate action?`` otherwise."""
    for k in SPLIT_RATIOS:
        if abs(ratio * k - 1) <= tolerance:
            return f"suspected {k:g}:1 split or bad tick"
        if abs(ratio / k - 1) <= tolerance:
            return f"suspected 1:{k:g} reverse split or bad tick"
    return "bad tick or a missed corporate action?"


def check_moves(facts: pl.DataFrame, settings: CheckSettings) -> list[Failure]:
    items, names = [], []
    for row in facts.sort("asset").iter_rows(named=True):
        close, prev = row["close"], row["prev_close"]
        if prev is None or close is None or not prev > 0 or not close > 0:
            continue
        ratio = close / prev
        if abs(ratio - 1) > settings.max_move:
            names.append(row["asset"])
            items.append(
                f"{row['asset']}: close {close:.4g} vs previous {prev:.4g} (ratio "
                f"{ratio:.2f}): {split_hint(ratio, settings.split_tolerance)}"
            )
    if not items:
        return []
    return [Failure("price_move", f"{_listing(items)} (max move {settings.max_move:.0%})",
                    tuple(names))]  # fmt: skip


def run_limits(config: RunConfig, settings: CheckSettings) -> tuple[float, float, float]:
    """``(gross, net, max_weight)`` the run's books obey, as shares of capital."""
    if config.construction == "optimizer":
        gross, net = config.max_gross, config.net_exposure
    else:
        gross, net = config.gross_long + config.gross_short, config.gross_long - config.gross_short
    cap = config.max_weight if config.max_weight is not None else settings.default_max_weight
    return float(gross), float(net), float(cap)


def check_limits(
    positions: pl.DataFrame, capital: float, config: RunConfig, settings: CheckSettings
) -> list[Failure]:
    """Gross, net and per-name notional of the positions after the orders."""
    gross_limit, net_limit, cap = run_limits(config, settings)
    tol = settings.tolerance
    value = positions["target_qty"] * positions["reference_price"]
    gross, net = float(value.abs().sum()), float(value.sum())
    out = []
    allowed = capital * gross_limit * (1 + tol)
    if gross > allowed:
        out.append(Failure(
            "gross",
            f"gross notional {gross:,.0f} is {gross / capital:.2f}x capital {capital:,.0f}; "
            f"the run's gross limit {gross_limit:g}x (+{tol:.0%}) allows {allowed:,.0f}",
        ))  # fmt: skip
    slack = capital * tol * max(gross_limit, 1.0)
    if abs(net - capital * net_limit) > slack:
        out.append(Failure(
            "net",
            f"net notional {net:,.0f} is {net / capital:+.2f}x capital {capital:,.0f}; the "
            f"run's net {net_limit:+g}x allows {capital * net_limit - slack:,.0f} .. "
            f"{capital * net_limit + slack:,.0f}",
        ))  # fmt: skip
    limit = capital * cap * (1 + tol)
    big = positions.with_columns(_v=value.abs()).filter(pl.col("_v") > limit).sort("asset")
    if big.height:
        items = [
            f"{r['asset']}: |position| {r['_v']:,.0f} = {r['_v'] / capital:.3f} of capital "
            f"(max weight {cap:g} +{tol:.0%}: {limit:,.0f})"
            for r in big.iter_rows(named=True)
        ]
        out.append(Failure("name", _listing(items), tuple(big["asset"].to_list())))
    return out


def check_participation(
    orders: pl.DataFrame, facts: pl.DataFrame, settings: CheckSettings
) -> list[Failure]:
    """Order notional against the name's mean daily traded value (skipped without volume)."""
    if facts.height and facts["adv"].null_count() == facts.height:
        return []  # no volume column in the data: nothing to judge
    sent = orders.filter(pl.col("order_qty") != 0).join(
        facts.select("asset", "adv"), on="asset", how="left"
    )
    items, names = [], []
    for row in sent.sort("asset").iter_rows(named=True):
        adv, notional = row["adv"], row["notional"]
        if adv is None or not math.isfinite(adv) or adv <= 0:
            if row["asset"] in facts["asset"].to_list():
                names.append(row["asset"])
                items.append(f"{row['asset']}: order {notional:,.0f} with no traded value "
                             f"in its last {settings.adv_days} bars")  # fmt: skip
            continue
        share = notional / adv
        if share > settings.max_participation:
            names.append(row["asset"])
            items.append(
                f"{row['asset']}: order {notional:,.0f} is {share:.1%} of its mean daily "
                f"traded value {adv:,.0f} ({settings.adv_days} bars)"
            )
    if not items:
        return []
    limit = f" (max {settings.max_participation:.0%})"
    return [Failure("participation", _listing(items) + limit, tuple(names))]


@dataclass(frozen=True)
class CheckReport:
    """What the checks found: the checks run, and the failures let through by override."""

    checks: tuple[str, ...]
    overridden: tuple[Failure, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": list(self.checks),
            "overrides": [f.to_dict() for f in self.overridden],
        }


def run_checks(
    orders: pl.DataFrame,
    panel: pl.DataFrame,
    as_of: date,
    capital: float,
    config: RunConfig,
    *,
    root: Path | None = None,
    overrides: Iterable[str] = (),
    settings: CheckSettings | None = None,
) -> CheckReport:
    """Every check of :data:`CHECKS` on ``orders`` (:func:`make_orders`' frame).

    Raises :class:`ChecksRefused` listing each failure whose check is not in ``overrides``;
    returns the checks run and the overridden failures otherwise.
    """
    settings = settings or CheckSettings()
    skip = set(parse_overrides(list(overrides)))
    involved = orders.filter(
        (pl.col("current_qty") != 0) | (pl.col("target_qty") != 0) | (pl.col("order_qty") != 0)
    )
    names = involved["asset"].to_list()
    facts = market_facts(panel, as_of, names, settings.adv_days)
    failures = [
        *check_kill_switch(root, settings),
        *check_stale(involved, panel, as_of),
        *check_moves(facts, settings),
        *check_limits(orders, capital, config, settings),
        *check_participation(orders, facts, settings),
    ]
    refused = [f for f in failures if f.check not in skip]
    if refused:
        raise ChecksRefused(refused)
    return CheckReport(CHECKS, tuple(f for f in failures if f.check in skip))
