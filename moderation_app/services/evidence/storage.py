"""The evidence upload pipeline: read sellers' screenshots, have them re-encoded, store them.

No request objects, no database. Two steps, so that nothing is written unless every file of a
request is good:

1. ``prepare_images(files, limits)`` reads each upload (at most its limit + 1 byte) and checks the
   count and byte limits, then ``evidence_images.prepare_image`` judges each by content, checks it
   before decoding and re-encodes it in memory without metadata or appended bytes.
2. ``with store.transaction() as staged: staged.save(prepared)`` writes the image and its thumbnail
   under names we choose, mode 0600. If the block raises, every file written in it is deleted. The
   caller adds the ``Evidence`` rows and commits as the *last* statement of the block.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# The image half of the pipeline; its public names are imported from here too.
from moderation_app.services.evidence.images import (
    DEFAULT_LIMITS,
    MB,
    EvidenceLimits,
    EvidenceRejected,
    PreparedImage,
    check_structure,
    prepare_image,
)

logger = logging.getLogger(__name__)

_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class StoredImage:
    """The file columns of ``models.Evidence``: ``Evidence(**dataclasses.asdict(stored), ...)``."""

    original_filename: str
    stored_name: str
    thumbnail_name: str
    format: str
    width: int
    height: int
    byte_size: int
    sha256: str
    perceptual_hash: str


# Control characters, bidi overrides (which disguise extensions: "\u202egnp.exe"), line separators.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def display_filename(raw: str | None) -> str:
    """The uploaded name, fit for display only: last path component, no invisible characters."""
    name = "".join(c for c in raw or "" if unicodedata.category(c) not in _INVISIBLE_CATEGORIES)
    # Some browsers send the client's full path, with either separator.
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        return "unnamed"
    return name[:255]


def prepare_images(
    files: Sequence[tuple[str | None, IO[bytes]]], limits: EvidenceLimits = DEFAULT_LIMITS
) -> list[PreparedImage]:
    """Validates and re-encodes every upload in memory; raises EvidenceRejected for the first bad
    one.

    ``files`` are (uploaded name, binary stream) pairs; streams are read from their current
    position. Byte limits are checked for all files before anything is decoded.
    """
    if not files:
        raise EvidenceRejected("Attach at least one screenshot.")
    if len(files) > limits.max_files:
        raise EvidenceRejected(f"Attach at most {limits.max_files} screenshots at a time.")
    uploads: list[tuple[str, bytes]] = []
    total = 0
    for raw_name, stream in files:
        name = display_filename(raw_name)
        data = _read_limited(stream, limits.max_file_bytes, name)
        total += len(data)
        if total > limits.max_total_bytes:
            raise EvidenceRejected(
                f"Together the screenshots are larger than {_size(limits.max_total_bytes)}; "
                "attach fewer at a time."
            )
        uploads.append((name, data))
    # Every file's structure is walked (cheap) before any is decoded (costly), so one refused
    # file never comes after seconds spent on the others.
    for name, data in uploads:
        check_structure(name, data, limits)
    return [prepare_image(name, data, limits) for name, data in uploads]


def _read_limited(stream: IO[bytes], limit: int, name: str) -> bytes:
    buffer = bytearray()
    while len(buffer) <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - len(buffer)))
        if not chunk:
            return bytes(buffer)
        buffer += chunk
    raise EvidenceRejected(f"“{name}” is larger than {_size(limit)}.", name)


def _size(n: int) -> str:
    for unit, factor in (("MB", MB), ("KB", 1024)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} bytes"


# Every name we write: 128 random bits in hex, then our own extension. Nothing else is a valid name.
_STORED_NAME = re.compile(r"[0-9a-f]{32}(?:\.png|\.jpg|\.thumb\.jpg)")


class EvidenceStore:
    """Evidence files on local disk under ``root``, named by us, readable only by the app's user."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        # An existing directory keeps its mode: that is the operator's decision.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path_for(self, name: str) -> Path:
        """The path of a stored file. Refuses (ValueError) any name we could not have chosen, so a
        name from anywhere else can never reach outside ``root``."""
        if not isinstance(name, str) or not _STORED_NAME.fullmatch(name):
            raise ValueError(f"not an evidence file name: {name!r}")
        return self.root / name

    def save(self, prepared: PreparedImage) -> StoredImage:
        """Writes the image and its thumbnail; both or neither. Prefer ``transaction()``, which also
        removes them if the caller's database work fails."""
        token = secrets.token_hex(16)
        stored_name, thumbnail_name = token + prepared.extension, token + ".thumb.jpg"
        self._write(stored_name, prepared.data)
        try:
            self._write(thumbnail_name, prepared.thumbnail)
            # The new names must survive a machine crash too, before the row naming them commits.
            self._sync_directory()
        except BaseException:
            self.delete(stored_name)
            self.delete(thumbnail_name)
            raise
        return StoredImage(
            original_filename=prepared.original_filename,
            stored_name=stored_name,
            thumbnail_name=thumbnail_name,
            format=prepared.format,
            width=prepared.width,
            height=prepared.height,
            byte_size=prepared.byte_size,
            sha256=prepared.sha256,
            perceptual_hash=prepared.perceptual_hash,
        )

    def delete(self, name: str) -> None:
        self.path_for(name).unlink(missing_ok=True)

    @contextmanager
    def transaction(self) -> Iterator[StagedFiles]:
        """Files saved through the yielded StagedFiles are deleted again if the block raises."""
        staged = StagedFiles(self)
        try:
            yield staged
        except BaseException:
            staged.discard()
            raise
        finally:
            staged.closed = True

    def _sync_directory(self) -> None:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write(self, name: str, data: bytes) -> None:
        path = self.path_for(name)
        # O_EXCL: never overwrite, never follow a planted symlink. 0600: only the app reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                # The row that points here may commit right after; the bytes must be on disk.
                os.fsync(file.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise


class StagedFiles:
    """The files written inside one ``EvidenceStore.transaction()`` block."""

    def __init__(self, store: EvidenceStore) -> None:
        self._store = store
        self.names: list[str] = []
        self.closed = False

    def save(self, prepared: PreparedImage) -> StoredImage:
        if self.closed:
            raise RuntimeError("this evidence transaction has ended")
        stored = self._store.save(prepared)
        self.names += [stored.stored_name, stored.thumbnail_name]
        return stored

    def save_all(self, prepared: Iterable[PreparedImage]) -> list[StoredImage]:
        return [self.save(item) for item in prepared]

    def discard(self) -> None:
        for name in reversed(self.names):
            try:
                self._store.delete(name)
            except OSError:  # keep cleaning up; the original error matters more than an orphan file
                logger.exception("could not remove staged evidence file %s", name)
        self.names.clear()
