"""alpha_core.evaluation."""
