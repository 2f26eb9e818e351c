"""One object that fully describes a run, composed of each stage's own settings.

:class:`RunConfig` inherits the declared fields of :class:`DataSettings`,
:class:`ResearchSettings`, :class:`FeatureSettings`, :class:`ModelSettings`,
:class:`PortfolioSettings` and :class:`EvaluationSettings`: each stage declares (and checks)
the settings it uses, and its functions accept that class, so a ``RunConfig`` serves them
all while the CLI keeps its flat spellings. It is immutable, serialises to plain JSON
(``to_dict``/``from_dict``, with a format ``version``) and validates itself with a
:class:`ConfigError` that names the field. Rules between fields of different stages live
in ``validate``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from alpha_core.base.settings import ConfigError, from_dict_of, setting, validate_fields
from alpha_core.data.settings import DataSettings
from alpha_core.evaluation.settings import EvaluationSettings
from alpha_core.features.settings import FeatureSettings
from alpha_core.models.base import model_presets
from alpha_core.models.settings import ModelSettings, inactive_blocks
from alpha_core.portfolio.settings import PortfolioSettings
from alpha_core.research.settings import WINDOW_FIELDS, ResearchSettings

V1_FIELDS = frozenset(
    [
        "borrow_bps",
        "cost_bps",
        "data",
        "embargo_days",
        "executor",
        "feature_set",
        "feature_transform",
        "features",
        "gross_long",
        "gross_short",
        "hold_buffer",
        "label",
        "label_transform",
        "limit_group",
        "long_pct",
        "max_sector_weight",
        "max_turnover",
        "max_weight",
        "metadata",
        "model",
        "model_type",
        "n_trials",
        "name",
        "on_bad_bars",
        "rebalance_every",
        "retrain_days",
        "sector_neutral",
        "seed",
        "select",
        "short_pct",
        "shuffle_labels",
        "sizing",
        "smooth_days",
        "target_horizon",
        "test_end",
        "test_start",
        "train_end",
        "train_start",
        "valid_end",
        "valid_start",
        "walk_forward",
        "window",
        "window_days",
    ]
)
"""The fields of config version 1 (they always enter the fingerprint)."""

CONFIG_VERSION = 2
"""Version of ``config.json``: 1 is the flat format before the stage settings (the same
fields), 2 adds the ``version`` key."""


@dataclass(frozen=True)
class RunConfig(
    EvaluationSettings,
    PortfolioSettings,
    ModelSettings,
    FeatureSettings,
    ResearchSettings,
    DataSettings,
):
    """Everything a run depends on. Defaults reproduce the founding document's experiment."""

    name: str = setting("", label="Run name", section="Books", help="display name of the run")

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first field that makes the run impossible."""
        validate_fields(self)
        self.validate_windows()
        self.validate_construction()
        self.model.validate()

    # ------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; parameter blocks of model types the run does not use are left
        out (:func:`~alpha_core.models.settings.inactive_blocks`)."""
        out: dict[str, Any] = {"version": CONFIG_VERSION}
        skip = inactive_blocks(self.model_type)
        for f in fields(self):
            if f.name not in skip:
                out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunConfig:
        """Read ``config.json`` of any version: v1 (before the version key) has the same
        flat fields; a newer version than this engine knows is refused."""
        raw = dict(raw)
        version = raw.pop("version", 1)
        if not isinstance(version, int) or not 1 <= version <= CONFIG_VERSION:
            raise ConfigError(
                f"config version {version!r} is not one this engine reads (1..{CONFIG_VERSION})"
            )
        return from_dict_of(cls, raw)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def fingerprint(self) -> str:
        """Short stable hash of the configuration (the name is excluded).

        A setting added after config version 1 enters the hash only when it differs from
        its default (at the default it changes nothing), so the fingerprints of runs saved
        before it existed, and the ledger keys built on them, stay as they were.
        """
        default = type(self)().to_dict()
        payload = {
            k: v
            for k, v in self.to_dict().items()
            if k in V1_FIELDS or v != default.get(k, object())
        }
        payload.pop("name", None)
        payload.pop("version", None)  # the format's version, not the run's settings
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def auto_name(self) -> str:
        """A display name from the settings that tell runs apart, for a run saved without
        a name: ``seed12 · fast · zscore · L20%/S20% · 5 bps · test 2016-07-01..2018-01-31``."""
        presets = model_presets(self.model_type)
        preset = next((k for k, p in presets.items() if p.params == self.params), None)
        model = preset or (
            f"{self.model.n_estimators} trees, {self.model.num_leaves} leaves"
            if self.model_type == "lightgbm"
            else self.model_type
        )
        if preset and self.model_type != "lightgbm":
            model = f"{self.model_type} {preset}"
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


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


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


FAMILY_FIELDS = ("label",)
"""The settings that, with the data (its fingerprint), make a run family: runs whose
strategies are measured on the same realised returns. The deflated Sharpe ratio counts the
runs of a family as trials (``n_trials``); everything else a researcher varies on that data
and target (features, model, training target transform and horizon, books, costs) is one
more trial, not another family."""


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
    data's span. ``n_trials`` counts the ``saved_runs`` (those of this run's family, see
    :data:`FAMILY_FIELDS`) plus this one. Data too short for
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
