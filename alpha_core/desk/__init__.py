"""alpha_core.desk.book."""
