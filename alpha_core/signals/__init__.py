"""alpha_core.signals."""
