"""The dashboard's period and figures, and the decision rows they are read from (services/dashboard)."""
