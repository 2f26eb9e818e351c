"""alpha_core.data.panel."""
