"""The evidence upload pipeline: read sellers' screenshots, have them re-encoded, store them.

No request objects, no database. Two steps, so that nothing is written unless every file of a
request is good:

1. ``prepare_images(files, limits)`` judges the whole request cheapest first, and decodes nothing
   until every file has passed every check that needs no decoding:
   a. the count of files; each file read (at most its limit + 1 byte), the total bytes;
   b. each file's structure walked, without Pillow (``structure.check_structure``);
   c. each file's header read by Pillow (``images.check_header``: type by content, sides, pixels,
      frames), and the pixels of the files so far against the request's budget;
   d. only then each file decoded and re-encoded in memory without metadata or appended bytes
      (``images.decode_image``).
   A refused request therefore costs reading and header parsing, never a decode.
   With ``hold_from_pixels``, a request of at least that many pixels skips step d: its files come
   back as ``HeldUpload``s, stored as received and decoded later by a job (processing.py).
2. ``with store.transaction() as staged: staged.save(prepared)`` writes the image and its thumbnail
   under names we choose, to the store's backend (backends.py: a 0700 folder of 0600 files, or an
   S3 bucket). If the block raises, every file written in it is deleted. The caller adds the
   ``Evidence`` rows and commits as the *last* statement of the block.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from moderation_app.services.evidence.backends import Backend, LocalFiles, Opened
# The image half of the pipeline; its public names are imported from here too.
from moderation_app.services.evidence.images import (
    DEFAULT_LIMITS,
    MB,
    EvidenceLimits,
    EvidenceRejected,
    PreparedImage,
    check_header,
    decode_image,
)
from moderation_app.services.evidence.structure import check_structure

logger = logging.getLogger(__name__)

_READ_CHUNK = 64 * 1024
# A held upload's stored name ends so (backends.EVIDENCE_NAMES): no content type, never served.
HELD_EXTENSION = ".upload"


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


@dataclass(frozen=True)
class HeldUpload:
    """An upload that passed every check short of decoding, to be stored as received and decoded
    by a job (services/evidence/processing.py): a request of large pictures is answered without
    waiting for seconds of decoding."""

    original_filename: str
    format: str
    width: int
    height: int
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


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
    files: Sequence[tuple[str | None, IO[bytes]]], limits: EvidenceLimits = DEFAULT_LIMITS,
    *, hold_from_pixels: int | None = None,
) -> list[PreparedImage] | list[HeldUpload]:
    """Validates and re-encodes every upload in memory; raises EvidenceRejected for the first bad
    one, and decodes none unless all pass the checks that need no decoding (see the module
    docstring). With ``hold_from_pixels``, files that together have at least that many pixels
    are returned undecoded, as ``HeldUpload``s, for a job to decode.

    ``files`` are (uploaded name, binary stream) pairs; streams are read from their current
    position.
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
    # Every walk before any header, every header before any decode: a refused file never comes
    # after seconds spent on the others.
    gif_frames = [check_structure(name, data, limits) for name, data in uploads]
    with ExitStack() as opened:  # headers read and not decoded are closed on the way out
        checked = []
        pixels = 0
        for (name, data), frames in zip(uploads, gif_frames):
            item = check_header(name, data, frames, limits)
            opened.callback(item.close)
            checked.append(item)
            pixels += item.pixels
            if pixels > limits.max_total_pixels:
                raise EvidenceRejected(
                    f"Together the screenshots have more than "
                    f"{limits.max_total_pixels / 1e6:.3g} megapixels; attach fewer or smaller "
                    "ones at a time."
                )
        if hold_from_pixels is not None and pixels >= hold_from_pixels:
            return [HeldUpload(item.name, item.format, item.width, item.height, item.data)
                    for item in checked]
        return [decode_image(item, limits) for item in checked]


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


class EvidenceStore:
    """Evidence files in one backend (backends.py: the local folder or S3), named by us."""

    def __init__(self, backend: Backend | Path | str) -> None:
        # A path is the local folder: the embedded default, and what most tests build.
        self.backend: Backend = (backend if not isinstance(backend, (Path, str))
                                 else LocalFiles(backend))

    @property
    def root(self) -> Path:
        """The local folder (a local store only)."""
        return self._local().root

    def path_for(self, name: str) -> Path:
        """The path of a stored file in a local store. Refuses (ValueError) any name we could not
        have chosen, so a name from anywhere else can never reach outside the folder."""
        return self._local().path_for(name)

    def _local(self) -> LocalFiles:
        if not isinstance(self.backend, LocalFiles):
            raise TypeError(f"the evidence store is {self.backend.description}, not a folder")
        return self.backend

    def save(self, prepared: PreparedImage) -> StoredImage:
        """Writes the image and its thumbnail; both or neither. Prefer ``transaction()``, which also
        removes them if the caller's database work fails."""
        token = secrets.token_hex(16)
        stored_name, thumbnail_name = token + prepared.extension, token + ".thumb.jpg"
        self.backend.write(stored_name, prepared.data)
        try:
            self.backend.write(thumbnail_name, prepared.thumbnail)
            self.backend.flush()
        except BaseException:
            self._delete_quietly(stored_name)
            self._delete_quietly(thumbnail_name)
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

    def hold(self, upload: HeldUpload) -> str:
        """Writes an upload's bytes as received, under a name that is never served; returns it."""
        name = secrets.token_hex(16) + HELD_EXTENSION
        self.backend.write(name, upload.data)
        try:
            self.backend.flush()
        except BaseException:
            self._delete_quietly(name)
            raise
        return name

    def read(self, name: str) -> bytes:
        """A stored file's bytes; NotStored when there is none."""
        opened = self.backend.open(name)
        with opened.stream:
            return opened.stream.read()

    def delete(self, name: str) -> None:
        self.backend.delete(name)

    def _delete_quietly(self, name: str) -> None:
        # Cleaning up after a failure: the failure matters more than an orphan `evidence gc` finds.
        try:
            self.backend.delete(name)
        except OSError:
            logger.exception("could not remove staged evidence file %s", name)

    def open(self, name: str) -> Opened:
        """A stored file for reading; NotStored when there is none."""
        return self.backend.open(name)

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

    def hold(self, upload: HeldUpload) -> str:
        if self.closed:
            raise RuntimeError("this evidence transaction has ended")
        name = self._store.hold(upload)
        self.names.append(name)
        return name

    def save_all(self, prepared: Iterable[PreparedImage]) -> list[StoredImage]:
        return [self.save(item) for item in prepared]

    def discard(self) -> None:
        for name in reversed(self.names):
            self._store._delete_quietly(name)
        self.names.clear()
