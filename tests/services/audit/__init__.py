"""The audit log's hash chain and its guards (services/audit)."""
