"""The front ends' view of run settings: :class:`RunConfig`, its declarations and presets.

A facade over :mod:`alpha_core.research.config` (which composes each stage's settings) and
the declaration machinery of :mod:`alpha_core.base.settings`; the CLI, ``alpha_ui`` and the
pages import settings from here only.
"""

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
from alpha_core.data.settings import BAD_BAR_POLICIES, DataSettings
from alpha_core.evaluation.settings import EvaluationSettings
from alpha_core.features.settings import FeatureSettings
from alpha_core.models.base import model_presets, model_type_infos, preset_params
from alpha_core.models.lightgbm.params import (
    FAST_PRESET,
    MODEL_PRESETS,
    SEED_PRESET,
    ModelParams,
    ModelPreset,
)
from alpha_core.models.settings import ModelSettings, block_of, blocks
from alpha_core.portfolio.settings import PortfolioSettings
from alpha_core.research.config import (
    CONFIG_VERSION,
    RunConfig,
    default_windows,
    defaults_for_data,
)
from alpha_core.research.settings import SELECTIONS, WINDOW_FIELDS, ResearchSettings

__all__ = [
    "BAD_BAR_POLICIES",
    "CONFIG_VERSION",
    "FAST_PRESET",
    "HIDDEN",
    "MODEL_PRESETS",
    "SECTIONS",
    "SEED_PRESET",
    "SELECTIONS",
    "WINDOW_FIELDS",
    "ConfigError",
    "DataSettings",
    "EvaluationSettings",
    "FeatureSettings",
    "ModelParams",
    "ModelPreset",
    "ModelSettings",
    "PortfolioSettings",
    "ResearchSettings",
    "RunConfig",
    "Setting",
    "Spec",
    "block_of",
    "blocks",
    "default_windows",
    "defaults_for_data",
    "from_dict_of",
    "get_path",
    "model_presets",
    "model_type_infos",
    "preset_params",
    "replace_paths",
    "setting",
    "setting_for",
    "settings",
    "validate_fields",
]
