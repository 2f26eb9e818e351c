"""alpha_core.models.linear: ridge regression on per-date z-scored features."""
