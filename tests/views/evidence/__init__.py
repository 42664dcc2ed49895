"""Uploading and serving evidence files over HTTP (evidence blueprint and the upload views)."""
