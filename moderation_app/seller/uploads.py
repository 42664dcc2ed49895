"""Evidence uploads in the seller's views: the daily quota, which refused uploads count against,
and a security event for every refusal.

Checking a refused upload costs the server as much as checking one it stores (before the checks ran
cheapest first, nine 40 MP PNGs of 5 KB each and then one 8×8 PNG took 13 s to refuse). So a refused
upload costs the seller as if its files had been stored: they count against the same quota,
EVIDENCE_DAILY_QUOTA files in 24 hours, for 24 hours. Once it is spent, an upload is refused before
any of its files is read.

Stored files are counted from the evidence rows, and large ones held for a job (or that then
failed) from their evidence_uploads rows; refused ones in the app's one `limits` storage,
the one the login throttle uses (RATELIMIT_STORAGE_URI, a moving 24-hour window per seller).
memory:// counts per process, so several workers should share e.g. redis://.

The request form checks the files even when its text is refused, so every error comes in one
round. Files that pass but are not stored because the text failed were decoded all the same, so
they are charged as refused files too (charge_unused): otherwise an empty explanation would make
decoding free. Once, though: the files of such a round are remembered by SHA-256 (remember_passed),
and a later round whose files are all among them (the same screenshots sent again by the form's
script, or a seller who removed one) is neither checked nor charged while its text is still refused
(passed_before). Hashing costs about 0.1 s for 40 MB, a fraction of checking; the set is the last
one that passed, whole, so its totals (bytes, pixels, count) still hold for any part of it. It lives
in the signed session: it can only name files this seller's own earlier round passed, and it expires.

When the evidence store itself fails (S3 down), the form says so (storage_down) and nothing is
charged: the files were good, the desk could not keep them.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from typing import IO

from flask import Flask, current_app, session
from limits import RateLimitItemPerDay
from wtforms import Field

from moderation_app.extensions import db
from moderation_app.models.users import User
from moderation_app.security_log import log_security_event
from moderation_app.services.evidence.backends import StorageUnavailable
from moderation_app.jobs import JobsUnavailable, enqueue, run_inline
from moderation_app.jobs.tasks import process_evidence
from moderation_app.services.evidence.images import EvidenceLimits
from moderation_app.services.evidence.storage import EvidenceRejected, HeldUpload, prepare_images
from moderation_app.services.requests.filing import Uploads, check_upload_quota
from moderation_app.settings import evidence_hold_from_pixels
from moderation_app.throttle import rate_limiter

EXTENSION = "refused_uploads"
SCOPE = "evidence-refused-files"
# Used as a counter: the window records every refused file. The count matters only up to the
# quota, since an upload that would pass the quota is refused before its files are read.
COUNTED = RateLimitItemPerDay(1_000_000)

Upload = tuple[str | None, IO[bytes]]

PASSED_KEY = "evidence_passed"
# Long enough to fix a text; short enough that a stale memory does not outlive a settings change.
PASSED_SECONDS = 3600
_HASH_CHUNK = 1 << 20


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
                     quota: int) -> Uploads:
    """The quota (stored and refused files), then the files checked and re-encoded, or held for
    a job when large (EVIDENCE_BACKGROUND_PIXELS); a refusal of the files is charged to the
    seller. Raises EvidenceRejected."""
    refused = refused_uploads()
    check_upload_quota(seller, len(files), quota, refused=refused.count(seller.id))
    try:
        return prepare_images(files, limits, hold_from_pixels=evidence_hold_from_pixels())
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


def _digests(files: Sequence[Upload], limits: EvidenceLimits) -> list[str] | None:
    """SHA-256 of each upload's bytes (streams rewound), or None when one is past the size limit:
    that round is checked, and refused, as usual. 128 bits are kept: the session cookie is small."""
    found = []
    for _name, stream in files:
        digest, size = hashlib.sha256(), 0
        stream.seek(0)  # after prepare_images, the streams are at their end
        while chunk := stream.read(_HASH_CHUNK):
            size += len(chunk)
            if size > limits.max_file_bytes:
                stream.seek(0)
                return None
            digest.update(chunk)
        stream.seek(0)
        found.append(digest.hexdigest()[:32])
    return found


def passed_before(seller: User, files: Sequence[Upload], limits: EvidenceLimits) -> bool:
    """Whether every file of this round (at least one) is among the set that last passed."""
    memory = session.get(PASSED_KEY)
    if (not files or not isinstance(memory, dict) or memory.get("seller") != seller.id
            or time.time() - memory.get("at", 0) > PASSED_SECONDS):
        return False
    digests = _digests(files, limits)
    # As multisets: a file sent twice must have passed twice.
    return digests is not None and not Counter(digests) - Counter(memory.get("files", []))


def remember_passed(seller: User, files: Sequence[Upload], limits: EvidenceLimits) -> None:
    """These files passed every check (and were charged) in a round refused for its text."""
    digests = _digests(files, limits)
    if digests is not None:
        session[PASSED_KEY] = {"seller": seller.id, "files": digests, "at": int(time.time())}


def forget_passed() -> None:
    session.pop(PASSED_KEY, None)


# The form keeps what the seller typed (and, with its script, the files chosen).
STORAGE_DOWN = ("The desk cannot store screenshots right now, so nothing was sent. Try again in a "
                "few minutes.")


def storage_down(field: Field, error: StorageUnavailable) -> None:
    """The evidence store (S3) failed while a form's files were stored: nothing was kept (the
    staged files were removed, the rows never committed); the form's file field says so."""
    db.session.rollback()
    current_app.logger.error("evidence store unavailable: %s", error)
    field.errors = [STORAGE_DOWN]


def process_held(request_id: int, images: Uploads) -> None:
    """After the commit that held large files (prepare_evidence): a job decodes them. If the queue
    cannot take it, they are decoded now, as a small upload is: the seller waits, nothing waits
    for a sweep."""
    if not any(isinstance(image, HeldUpload) for image in images):
        return
    try:
        enqueue(process_evidence, request_id)
    except JobsUnavailable as error:
        current_app.logger.warning("evidence of request %s decoded in the request: %s",
                                   request_id, error)
        run_inline(current_app._get_current_object(), process_evidence, request_id)
