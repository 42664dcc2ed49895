"""Signing in and out, sessions and password confirmation (auth blueprint, sessions.py)."""
