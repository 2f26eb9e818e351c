"""alpha_core.models.ensemble: weighted combinations of member models of any types."""
