"""alpha_core.models.lightgbm."""
