"""alpha_core.base."""
