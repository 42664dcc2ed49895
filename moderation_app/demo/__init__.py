"""Demo data for `make run` and screenshots: built through the same services as real data."""
