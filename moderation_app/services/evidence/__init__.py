"""Evidence screenshots: image checks and re-encoding, staged storage, garbage collection."""
