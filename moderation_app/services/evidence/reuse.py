"""Whether a new evidence file was already used by another request: the marks kept on its row for
the dashboard (services/queue/signals.py looks at every file when a request is shown)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Exists, exists, select

from moderation_app.extensions import db
from moderation_app.models.evidence import Evidence


def reuse_marks(request_id: int, sha256: str, perceptual_hash: str) -> dict[str, bool]:
    """Evidence's reuse columns for a new file of this request: whether a file of another request
    already has the same SHA-256 / perceptual hash. One statement, one probe of each hash's index.
    Two uploads of the same new file at the same moment may each miss the other (neither sees the
    other's uncommitted row); the request page's own signals (services/queue/signals.py) look at
    every file when shown, so only the dashboard's count can miss such a pair."""
    def elsewhere(match: ColumnElement[bool]) -> Exists:
        return exists().where(match, Evidence.request_id != request_id)

    sha256_reused, phash_reused = db.session.execute(select(
        elsewhere(Evidence.sha256 == sha256),
        elsewhere(Evidence.perceptual_hash == perceptual_hash))).one()
    return {"sha256_reused": bool(sha256_reused), "phash_reused": bool(phash_reused)}
