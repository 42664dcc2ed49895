"""The errors a rule raises to refuse an operation; views turn them into messages or a 404."""


class DomainError(Exception):
    """A rule refused the operation; the message is safe to show to the user."""


class NoSuchRecord(DomainError):
    """Absent, or not the caller's to see: the two look the same from outside (answered with 404)."""
