"""The evidence image pipeline and its store (services/evidence)."""
