"""Signed checkpoints of the audit chain's head (format in docs/audit-log.md). The chain alone
cannot tell a log cut short from one that simply ended there; a checkpoint signed with a key the
database never holds, and kept away from it, can."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models.audit import AuditEvent
from moderation_app.services.audit.log import (
    ChainCheck,
    canonical_json,
    format_timestamp,
    record_event,
    verify_chain,
)

FORMAT = 1
KEY_SETTING = "AUDIT_CHECKPOINT_KEY"
# The file carries both the signed text and its HMAC, so a short key can be guessed offline.
MIN_KEY_LENGTH = 32
# A checkpoint is about 300 bytes; a file much larger than that is not one.
MAX_FILE_CHARS = 4096
_FIELD_TYPES: dict[str, type] = {
    "format": int, "count": int, "last_id": int, "head_hash": str, "created_at": str,
    "signature": str,
}


class CheckpointError(Exception):
    """A checkpoint cannot be made, read or trusted; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain up to and including event `last_id` (`count` events) ends in `head_hash`."""

    count: int
    last_id: int
    head_hash: str
    created_at: str
    format: int = FORMAT
    signature: str = ""

    def signed_fields(self) -> dict[str, Any]:
        return {"format": self.format, "count": self.count, "last_id": self.last_id,
                "head_hash": self.head_hash, "created_at": self.created_at}

    def signed_bytes(self) -> bytes:
        """Exactly what the HMAC covers: the fields but the signature, in canonical JSON."""
        return canonical_json(self.signed_fields()).encode("utf-8")

    def to_json(self) -> str:
        return json.dumps({**self.signed_fields(), "signature": self.signature}, indent=2) + "\n"


def checkpoint_key(setting: object) -> bytes:
    """The HMAC key from the AUDIT_CHECKPOINT_KEY setting, or a clear refusal."""
    if setting is None or setting == "":
        raise CheckpointError(
            f"{KEY_SETTING} is not set: checkpoints are signed with it. Set it in the environment "
            "(e.g. `export AUDIT_CHECKPOINT_KEY=$(python -c 'import secrets; "
            "print(secrets.token_hex(32))')`) and keep it apart from the database and SECRET_KEY.")
    if not isinstance(setting, str):
        # FLASK_AUDIT_CHECKPOINT_KEY is parsed as JSON: an all-digit key would become a number.
        raise CheckpointError(f"{KEY_SETTING} must be text, not {type(setting).__name__}; "
                              f"set it as {KEY_SETTING} rather than FLASK_{KEY_SETTING}.")
    if len(setting) < MIN_KEY_LENGTH:
        raise CheckpointError(f"{KEY_SETTING} is shorter than {MIN_KEY_LENGTH} characters: "
                              "anyone holding a checkpoint file could guess it offline.")
    return setting.encode("utf-8")


def sign(key: bytes, checkpoint: Checkpoint) -> str:
    return hmac.new(key, checkpoint.signed_bytes(), hashlib.sha256).hexdigest()


def make_checkpoint(key_setting: object) -> Checkpoint:
    """Verify the chain, sign its head, then record `audit.checkpointed` in the caller's
    transaction. The event comes after the head it describes: it only extends the chain."""
    key = checkpoint_key(key_setting)
    chain = verify_chain()
    if not chain.ok:
        raise CheckpointError(f"the audit log is broken at event {chain.broken_at} "
                              f"({chain.reason}); a checkpoint would vouch for it. "
                              "See `audit verify`.")
    if chain.count == 0:
        raise CheckpointError("the audit log is empty: there is no head to checkpoint.")
    # A verified chain runs 1, 2, 3 … without gaps, so its last id is its count.
    unsigned = Checkpoint(count=chain.count, last_id=chain.count, head_hash=chain.head_hash,
                          created_at=format_timestamp(utcnow()))
    checkpoint = replace(unsigned, signature=sign(key, unsigned))
    details = checkpoint.signed_fields()
    del details["format"]
    record_event("audit.checkpointed", details=details)
    return checkpoint


def load_checkpoint(text: str, key_setting: object) -> Checkpoint:
    """Parse a checkpoint file and check its signature; CheckpointError if it cannot be trusted."""
    key = checkpoint_key(key_setting)
    if len(text) > MAX_FILE_CHARS:
        raise CheckpointError("not a checkpoint file (far too large)")
    try:
        fields = json.loads(text)
    except ValueError:
        raise CheckpointError("not a checkpoint file (not JSON)") from None
    if not isinstance(fields, dict) or set(fields) != set(_FIELD_TYPES):
        raise CheckpointError("not a checkpoint file (expected the keys "
                              f"{', '.join(_FIELD_TYPES)})")
    for name, kind in _FIELD_TYPES.items():
        # type() rather than isinstance(): JSON true is not a count.
        if type(fields[name]) is not kind:
            raise CheckpointError(f"not a checkpoint file ({name} is not {kind.__name__})")
    if fields["format"] != FORMAT:
        raise CheckpointError(f"checkpoint format {fields['format']} is not supported "
                              f"(this version reads format {FORMAT})")
    checkpoint = Checkpoint(**fields)
    # Bytes: compare_digest refuses non-ASCII text, and a forged file may hold some.
    if not hmac.compare_digest(sign(key, checkpoint).encode(), checkpoint.signature.encode()):
        raise CheckpointError("the signature does not match: the file was altered, or it was "
                              f"signed with another {KEY_SETTING}")
    return checkpoint


def _event_range(first: int, last: int) -> str:
    return f"event {first}" if first == last else f"events {first} to {last}"


def compare_with_log(checkpoint: Checkpoint, chain: ChainCheck) -> str | None:
    """Why a log whose chain verified does not hold the checkpointed head; None if it does.
    One indexed lookup on top of the streamed check, so memory stays flat."""
    made = f"the checkpoint of {checkpoint.created_at}"
    if chain.count < checkpoint.count:
        return (f"log CUT SHORT: {made} covers {checkpoint.count} events up to event "
                f"{checkpoint.last_id}, the log holds {chain.count}; "
                f"{_event_range(chain.count + 1, checkpoint.last_id)} missing")
    stored = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.id == checkpoint.last_id))
    if stored is None:
        return f"log CUT SHORT: event {checkpoint.last_id}, the head of {made}, is missing"
    if stored != checkpoint.head_hash:
        return (f"log REWRITTEN: event {checkpoint.last_id} has hash {stored}, {made} signed "
                f"{checkpoint.head_hash}; events up to it are not the ones checkpointed")
    return None
