"""Evidence uploads in the seller's views: the daily quota, which refused uploads count against,
and a security event for every refusal.

Checking a refused upload costs the server as much as checking one it stores (before the checks ran
cheapest first, nine 40 MP PNGs of 5 KB each and then one 8×8 PNG took 13 s to refuse). So a refused
upload costs the seller as if its files had been stored: they count against the same quota,
EVIDENCE_DAILY_QUOTA files in 24 hours, for 24 hours. Once it is spent, an upload is refused before
any of its files is read.

Stored files are counted from the evidence rows; refused ones in the app's one `limits` storage,
the one the login throttle uses (RATELIMIT_STORAGE_URI, a moving 24-hour window per seller).
memory:// counts per process, so several workers should share e.g. redis://.

The request form checks the files even when its text is refused, so every error comes in one
round. Files that pass but are not stored because the text failed were decoded all the same, so
they are charged as refused files too (charge_unused): otherwise an empty explanation would make
decoding free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from flask import Flask, current_app
from limits import RateLimitItemPerDay

from moderation_app.models.users import User
from moderation_app.security_log import log_security_event
from moderation_app.services.evidence.images import EvidenceLimits, PreparedImage
from moderation_app.services.evidence.storage import EvidenceRejected, prepare_images
from moderation_app.services.requests.filing import check_upload_quota
from moderation_app.throttle import rate_limiter

EXTENSION = "refused_uploads"
SCOPE = "evidence-refused-files"
# Used as a counter: the window records every refused file. The count matters only up to the
# quota, since an upload that would pass the quota is refused before its files are read.
COUNTED = RateLimitItemPerDay(1_000_000)

Upload = tuple[str | None, IO[bytes]]


class RefusedUploads:
    """Files of each seller's refused uploads in the last 24 hours; one counter per app."""

    def __init__(self, app: Flask) -> None:
        self._limiter = rate_limiter(app)
        app.extensions[EXTENSION] = self

    def count(self, seller_id: int) -> int:
        stats = self._limiter.get_window_stats(COUNTED, SCOPE, str(seller_id))
        return COUNTED.amount - stats.remaining

    def charge(self, seller_id: int, files: int) -> None:
        if files > 0:
            self._limiter.hit(COUNTED, SCOPE, str(seller_id), cost=files)


def refused_uploads() -> RefusedUploads:
    return current_app.extensions[EXTENSION]


def prepare_evidence(seller: User, files: Sequence[Upload], *, limits: EvidenceLimits,
                     quota: int) -> list[PreparedImage]:
    """The quota (stored and refused files), then the files checked and re-encoded; a refusal of
    the files is charged to the seller. Raises EvidenceRejected."""
    refused = refused_uploads()
    check_upload_quota(seller, len(files), quota, refused=refused.count(seller.id))
    try:
        return prepare_images(files, limits)
    except EvidenceRejected:
        # More files than allowed are refused before any is read: that costs the server nothing.
        if len(files) <= limits.max_files:
            refused.charge(seller.id, len(files))
        raise


def charge_unused(seller: User, files: int) -> None:
    """Files checked and decoded, then not stored because the rest of the form was refused."""
    refused_uploads().charge(seller.id, files)


def log_refusal(seller: User, error: EvidenceRejected) -> None:
    """Every refused upload, for the operators: the seller, the reason (the message the seller
    saw, naming the file) and the seller's refused files in the last 24 hours. No file content."""
    log_security_event("upload_refused", seller_id=seller.id, reason=str(error),
                       refused_files_24h=refused_uploads().count(seller.id))
