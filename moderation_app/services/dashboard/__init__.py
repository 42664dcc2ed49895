"""The manager's dashboard: a period of days, and the figures the database computes for it."""
