"""/dashboard, /dashboard.json and the CSV downloads through HTTP."""
