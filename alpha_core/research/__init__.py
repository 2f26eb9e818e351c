"""alpha_core.research."""
