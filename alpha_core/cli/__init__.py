"""alpha_core.cli.main."""
