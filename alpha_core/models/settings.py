"""The models stage's settings: the model type, each type's parameters, the seed.

Every discovered model type with a ``params_class`` owns one block of parameters: LightGBM's
is ``model`` (its historical name: ``--n-estimators`` and friends), any other type's is
named after the type (``linear``: ``--ridge-alpha`` ...). :class:`ModelSettings` is composed
from the discovered types when this module is imported, so a model type installed as a
plug-in brings its flags and Train-form controls with it. The run trains the block of its
``model_type`` (:attr:`ModelSettings.params`); ``config.json`` stores LightGBM's block and
the active type's (:func:`inactive_blocks` are left out, so a LightGBM run's JSON and
fingerprint are what they were before other types existed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from alpha_core.base.settings import setting
from alpha_core.models import base
from alpha_core.models.lightgbm.params import ModelParams

LIGHTGBM_BLOCK = "model"
"""The field of LightGBM's parameters (the default model type)."""


def _model_types() -> tuple[str, ...]:
    return tuple(base.model_types())


@dataclass(frozen=True)
class _CommonModelSettings:
    """What every model type shares: the type, LightGBM's parameters, the seed."""

    model_type: str = setting(
        "lightgbm",
        label="Model type",
        choices=_model_types,
        section="Model",
        help="the model implementation (a discovered plug-in: lightgbm, linear, ensemble, ...); "
        "the run trains that type's parameters",
    )
    model: ModelParams = field(default_factory=ModelParams)
    seed: int = setting(42, label="Seed", lo=0, hi=2**31 - 1, section="Model")
    shuffle_labels: bool = setting(
        False,
        label="Shuffle labels",
        section="Model",
        advanced=True,
        help="no-signal control run: labels shuffled within each date",
    )

    @property
    def params(self) -> Any:
        """The parameters of the run's model type (its block). A type registered after
        the settings were composed (not a discovered plug-in) has no block: its defaults, or
        ``model`` when it declares no parameter class (as before types owned parameters)."""
        block = block_of(self.model_type)
        if hasattr(self, block):
            return getattr(self, block)
        return base.preset_params(self.model_type) or self.model

    def with_params(self, params: Any) -> Any:
        """These settings with ``params`` as the run's model type's parameters."""
        block = block_of(self.model_type)
        if hasattr(self, block):
            return dataclasses.replace(self, **{block: params})
        if params not in (base.preset_params(self.model_type), self.model):
            raise ValueError(
                f"model type {self.model_type!r} was registered after the run settings were "
                "composed: install it as a plug-in (an alpha_lab.model_types entry point) to "
                "give it parameters"
            )
        return self


def blocks() -> dict[str, str]:
    """Parameter block field -> its model type, LightGBM's first."""
    out = {LIGHTGBM_BLOCK: "lightgbm"}
    for name, info in base.model_type_infos().items():
        if name != "lightgbm" and info.params_class is not None:
            out[name] = name
    return out


def block_of(model_type: str) -> str:
    """The field holding ``model_type``'s parameters."""
    return LIGHTGBM_BLOCK if model_type == "lightgbm" else model_type


def inactive_blocks(model_type: str) -> tuple[str, ...]:
    """Blocks of types other than ``model_type`` and LightGBM (left out of ``config.json``)."""
    return tuple(b for b in blocks() if b not in (LIGHTGBM_BLOCK, block_of(model_type)))


def _type_fields() -> list[tuple[str, type, Any]]:
    taken = {f.name for f in dataclasses.fields(_CommonModelSettings)}
    out = []
    for name in blocks():
        if name == LIGHTGBM_BLOCK:
            continue
        if not name.isidentifier() or name in taken:
            raise ValueError(f"model type {name!r} cannot name a settings block")
        cls = base.model_type_infos()[name].params_class
        out.append((name, cls, field(default_factory=cls)))
    base.param_owners()  # raises when two types declare the same parameter name (one flag)
    return out


ModelSettings = dataclass(frozen=True)(
    type(
        "ModelSettings",
        (_CommonModelSettings,),
        {
            "__annotations__": {name: cls for name, cls, _ in _type_fields()},
            **{name: f for name, _, f in _type_fields()},
            "__doc__": "Which model is fitted, with which parameters and seed; one block of "
            "parameters per discovered model type.",
            "__module__": __name__,
        },
    )
)
