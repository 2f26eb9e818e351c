"""alpha_core.runs.service."""
