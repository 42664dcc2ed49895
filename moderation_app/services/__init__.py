"""Business rules. Services change the session but never commit: the caller's one commit
makes a change and its audit event land together."""


class DomainError(Exception):
    """A rule refused the operation; the message is safe to show to the user."""


class NotFound(DomainError):
    """Absent, or not the caller's to see: the two look the same from outside (answered with 404)."""
