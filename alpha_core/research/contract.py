"""The data contract of a run: what the panel must satisfy before training, applied once.

:func:`apply_contract` is the one place a run's panel is judged (the CLI and the app reach it
through :func:`alpha_core.research.pipeline.run_experiment`):

* **bad bars** (:data:`alpha_core.data.quality.BAD_BAR_CHECKS`: missing, infinite or non-positive
  prices, OHLC out of order, negative volume, stray bars) follow the ``on_bad_bars`` policy
  (:data:`BAD_BAR_POLICIES`): ``refuse`` (the default) raises one message naming the count,
  the first asset and date and how to proceed; ``drop`` removes those bars and the run's
  metrics say how many (``bad_bars_dropped``); ``keep`` trains on them as they are;
* **the calendar** is inferred from the dates (:func:`alpha_core.data.quality.infer_calendar`)
  and used for every annualisation; irregular bars are refused;
* **features** that need a column the data lacks (``Feature.needs``) are left out and
  recorded (``features_dropped``) instead of emptying every training row;
* **a label that cannot move** (every asset's price, the one the label convention measures,
  the same on every bar: the label is 0 everywhere) is refused: there is nothing to learn;
* **settings that cannot take effect** (sector-neutral ranking or a group cap without the
  group column) are refused.

After training, :func:`test_losses` measures what the test window lost (bars and dates with
no prediction). No loss is silent, however small: every run's metrics carry
``test_rows_lost`` and ``test_dates_lost`` and the CLI summary prints them when not zero
(:func:`alpha_core.evaluation.report.data_notes`). :func:`refuse_empty_books` refuses a run whose
books
are empty on one side or whose Sharpe ratio is undefined, so such a run is never saved as a
normal one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from alpha_core.base.settings import ConfigError
from alpha_core.data.panel import PanelError
from alpha_core.data.quality import (
    DAILY,
    Calendar,
    CalendarError,
    bad_bars,
    check_quality,
    describe,
    infer_calendar,
)
from alpha_core.features.labels import LABELS
from alpha_core.features.libraries import feature_spec
from alpha_core.research.config import RunConfig

CONTRACT_KEY = "data_contract"
"""Key of :meth:`DataContract.to_meta` in the models' metadata (so a rebook finds it)."""


@dataclass(frozen=True)
class DataContract:
    """What the contract found and did: the calendar, the bad bars, the features left out."""

    calendar: Calendar = DAILY
    policy: str = "refuse"
    bad_bars: int = 0
    """Bars the quality checks found unusable (before the policy)."""
    bad_bars_dropped: int = 0
    features_dropped: dict[str, str] = field(default_factory=dict)
    """Feature -> the column it needs that the data lacks."""

    def to_meta(self) -> dict[str, Any]:
        """JSON-able summary, saved with the models and read back by :func:`metrics_of`."""
        return {
            "calendar": self.calendar.describe(),
            "frequency": self.calendar.frequency,
            "periods_per_year": self.calendar.periods_per_year,
            "on_bad_bars": self.policy,
            "bad_bars": self.bad_bars,
            "bad_bars_dropped": self.bad_bars_dropped,
            "features_dropped": dict(self.features_dropped),
        }


def apply_contract(
    config: RunConfig, panel: pl.DataFrame, features: tuple[str, ...]
) -> tuple[pl.DataFrame, DataContract]:
    """The panel a run trains on and what the contract found; raise when it refuses.

    ``features`` are the run's feature names (those needing an absent column are recorded
    in ``features_dropped``).

    Raises :class:`~alpha_core.data.panel.PanelError` for bad bars under ``refuse``, irregular
    dates or a panel with no usable feature, and :class:`~alpha_core.config.ConfigError`
    for a setting the data cannot support.
    """
    check_settings(config, panel)
    kept, found = apply_bad_bar_policy(config.on_bad_bars, panel)
    dropped = panel.height - kept.height
    panel = kept
    refuse_constant_label(config, panel)
    try:
        calendar = infer_calendar(panel["date"])
    except CalendarError as exc:
        raise PanelError(str(exc)) from exc
    contract = DataContract(
        calendar=calendar,
        policy=config.on_bad_bars,
        bad_bars=found.height,
        bad_bars_dropped=dropped,
        features_dropped=unusable_features(features, panel),
    )
    return panel, contract


def apply_bad_bar_policy(policy: str, panel: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(the bars the policy lets through, the bad bars found)``; raises PanelError under
    ``refuse`` (or when ``drop`` would leave nothing). Training and the desk both use it, so a
    book is scored on the bars its model was trained on."""
    if policy == "keep":
        return panel, bad_bars(check_quality(panel))
    found = bad_bars(check_quality(panel))
    if found.height and policy == "refuse":
        raise PanelError(refusal(found))
    if found.height == 0:
        return panel, found
    kept = panel.join(found.select("asset", "date"), on=["asset", "date"], how="anti")
    if kept.height == 0:
        raise PanelError(f"every bar of the data is a bad bar ({refusal(found)})")
    return kept, found


def refusal(found: pl.DataFrame) -> str:
    """The refuse policy's message: count, reasons, the first bar, how to proceed."""
    counts = found.group_by("check").len().sort("len", "check", descending=[True, False])
    reasons = ", ".join(describe(check, n) for check, n in counts.iter_rows())
    asset, day, _check, detail = found.row(0)
    return (
        f"the data has {found.height} bad bar{'s' if found.height != 1 else ''} ({reasons}); "
        f"the first is {asset} {day} ({detail}). "
        "Fix the data, or set on_bad_bars to drop (--on-bad-bars drop) to train without them "
        "(the run then reports what it lost), or to keep (--on-bad-bars keep)"
    )


def refuse_constant_label(config: RunConfig, panel: pl.DataFrame) -> None:
    """Raise PanelError when the label's price never moves for any asset: every label is 0
    and a model would learn a constant (LightGBM grows no split, every score ties)."""
    convention = LABELS.get(config.label)
    price = convention.price if convention else "close"
    if price not in panel.columns or panel.height == 0:
        return
    per_asset = panel.group_by("asset").agg(pl.col(price).drop_nulls().n_unique())
    if (per_asset[price].max() or 0) > 1:  # type: ignore[operator]
        return
    values = panel[price].drop_nulls().unique()
    same = f"; every {price} is {values[0]:g}" if values.len() == 1 else ""
    definition = f": {convention.definition}" if convention else ""
    raise PanelError(
        f"the label is constant: no asset's {price} price ever changes ({per_asset.height} "
        f"asset(s), {panel.height} bar(s){same}), so the label ({config.label}{definition}) "
        "is 0 on every bar and there is nothing to learn"
    )


def check_settings(config: RunConfig, panel: pl.DataFrame) -> None:
    """Raise ConfigError for a setting that cannot take effect on this panel.

    Sector-neutral ranking and the group cap need the ``limit_group`` column with values.
    """
    group = config.limit_group
    has_group = group in panel.columns and panel[group].null_count() < panel.height
    for name, used in (
        ("sector_neutral", config.sector_neutral),
        ("max_sector_weight", config.max_sector_weight is not None),
    ):
        if used and not has_group:
            raise ConfigError(
                f"{name} needs a {group!r} column with values in the data, and this data has "
                f"none; add it (a metadata file mapping asset to {group}) or turn {name} off",
                field=name,
            )


def missing_columns(panel: pl.DataFrame) -> set[str]:
    """Columns absent from the panel or without a single value."""
    panel_cols = ("open", "high", "low", "close", "volume")
    return {
        c for c in panel_cols if c not in panel.columns or panel[c].null_count() == panel.height
    }


def unusable_features(names: tuple[str, ...], panel: pl.DataFrame) -> dict[str, str]:
    """Feature -> the first column it needs (its library's ``needs``) that the panel lacks."""
    missing = missing_columns(panel)
    out: dict[str, str] = {}
    for name in names:
        feature = feature_spec(name)
        lacking = [c for c in getattr(feature, "needs", ()) if c in missing]
        if lacking:
            out[name] = lacking[0]
    if names and len(out) == len(names):
        raise PanelError(
            "no feature can be computed: "
            + ", ".join(f"{n} needs {c}" for n, c in out.items())
            + ", and the data has no values in those columns"
        )
    return out


def usable(names: tuple[str, ...], contract: DataContract) -> tuple[str, ...]:
    """``names`` without the features the contract left out."""
    return tuple(n for n in names if n not in contract.features_dropped)


# ------------------------------------------------------------------------------ after the run
def test_losses(panel: pl.DataFrame, preds: pl.DataFrame, config: RunConfig) -> dict[str, int]:
    """Bars and dates of the test window in the source panel that got no prediction.

    They were dropped as bad bars, or their features were missing (warm-up of a new
    listing, a missing value). ``test_bars`` counts the test window's bars.
    """
    window = panel.filter(pl.col("date").is_between(config.test_start, config.test_end))
    dates = window["date"].n_unique()
    return {
        "test_bars": window.height,
        "test_rows_lost": window.height - preds.height,
        "test_dates_lost": dates - preds["date"].n_unique(),
    }


def metrics_of(contract: dict[str, Any] | None) -> dict[str, Any]:
    """The contract's metric entries from :meth:`DataContract.to_meta` (and the test losses
    stored beside it); a run saved before the contract existed gets the daily calendar."""
    meta = contract or {}
    dropped = meta.get("features_dropped") or {}
    return {
        "calendar": meta.get("calendar", DAILY.describe()),
        "periods_per_year": int(meta.get("periods_per_year", DAILY.periods_per_year)),
        "bad_bars_dropped": int(meta.get("bad_bars_dropped", 0)),
        "test_rows_lost": int(meta.get("test_rows_lost", 0)),
        "test_dates_lost": int(meta.get("test_dates_lost", 0)),
        "features_dropped": ", ".join(f"{n} (no {c})" for n, c in dropped.items()) or "none",
    }


def periods_of(contract: dict[str, Any] | None) -> int:
    """Bars a year of the run's calendar (252 for a run saved without a contract)."""
    return int((contract or {}).get("periods_per_year", DAILY.periods_per_year))


def refuse_empty_books(metrics: dict[str, Any], preds: pl.DataFrame, config: RunConfig) -> None:
    """Raise ConfigError when a side never holds a position or the Sharpe ratio is undefined."""
    days = int(metrics.get("n_test_days") or 0)
    per_day = preds.group_by("date").len()["len"]
    most = int(per_day.max()) if per_day.len() else 0  # type: ignore[arg-type]
    for side, pct in (("long", config.long_pct), ("short", config.short_pct)):
        if days and metrics.get(f"days_without_{side}") == days and config.construction != "rank":
            raise ConfigError(
                f"the optimiser held no {side} position on any of the {days} test days: no "
                "trade's expected alpha paid for its modelled cost and risk (cost_bps "
                f"{config.cost_bps:g}, trade_aversion {config.trade_aversion:g}, target_vol "
                f"{config.target_vol:g}, validation IC {metrics.get('valid_rank_ic')})",
                field="construction",
            )
        if days and metrics.get(f"days_without_{side}") == days:
            need = max(2, math.ceil(0.5 / pct - 1e-9))
            raise ConfigError(
                f"the books hold no {side} position on any of the {days} test days: with at "
                f"most {most} scored assets a day, {side}_pct {pct:g} selects none (it needs "
                f"at least {need} assets a day); raise {side}_pct or use a larger universe",
                field=f"{side}_pct",
            )
    if days == 0:
        raise ConfigError("the test window has no day with a realised return to measure")
    if metrics.get("sharpe") is None:
        raise ConfigError(
            f"the long-short Sharpe ratio is undefined over the {days} test day(s) "
            "(fewer than two days with positions, or a constant daily return); "
            "lengthen the test window"
        )
