"""alpha_core.portfolio."""
