"""The long runs, each behind its own marker: faults, hostile, properties, browser."""
