"""The staff queue list and the signals beside a request (services/queue)."""
