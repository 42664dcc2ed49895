"""The staff queue: listing open and closed requests, and the signals shown beside one request."""
