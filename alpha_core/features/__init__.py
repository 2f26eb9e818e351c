"""alpha_core.features.library."""
