"""alpha_core.stats.returns."""
