"""alpha_core.models."""
