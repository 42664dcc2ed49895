"""The evidence upload pipeline: check, decode, re-encode and store sellers' screenshots.

Pure Python + Pillow + imagehash; no request objects, no database. Two steps, so that nothing is
written unless every file of a request is good:

1. ``prepare_images(files, limits)`` reads each upload (at most its limit + 1 byte), judges the type by
   content only (PNG, JPEG, WebP, GIF), checks pixels and frames from the headers before decoding, then
   decodes and re-encodes in memory: JPEG stays JPEG (RGB, quality 90), PNG/GIF/WebP become PNG (alpha
   kept). EXIF orientation is applied; metadata (EXIF, GPS, ICC, comments, text chunks) and anything
   appended after the image data are left behind. Each result has a 320 px JPEG thumbnail and hashes.
2. ``with store.transaction() as staged: staged.save(prepared)`` writes the image and its thumbnail
   under names we choose, mode 0600. If the block raises, every file written in it is deleted. The
   caller adds the ``Evidence`` rows and commits as the *last* statement of the block.

Animated images: we keep the first frame only. Evidence is a still screenshot and the queue shows one
picture. Frames are counted from the headers without decoding, absurd counts are refused, and only
frame 0 is ever decoded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import imagehash
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from moderation_app.services import DomainError

logger = logging.getLogger(__name__)

MB = 1024 * 1024
ACCEPTED_FORMATS = ["PNG", "JPEG", "WEBP", "GIF"]
JPEG_QUALITY = 90
THUMBNAIL_BOX = (320, 320)
THUMBNAIL_QUALITY = 80
_READ_CHUNK = 64 * 1024

# We drop text chunks when re-encoding, but Pillow still inflates zTXt/iTXt while parsing, and a few
# kilobytes can expand to megabytes. Its defaults (1 MB per chunk, 64 MB per image) are far beyond what
# a screenshot's XMP needs; a PNG over these is refused as unreadable. Process-wide Pillow settings.
PngImagePlugin.MAX_TEXT_CHUNK = 256 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 1 * MB

# Pillow only *warns* past Image.MAX_IMAGE_PIXELS (and raises DecompressionBombError past twice that).
# One process-wide filter makes it an error: warnings.catch_warnings() per upload would swap the global
# filter list, which is not thread-safe before Python 3.14. A filter can be lost (imported inside someone
# else's catch_warnings), so refusal doesn't rely on it: our header check is capped at Pillow's threshold.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class EvidenceRejected(DomainError):
    """An upload was refused; ``str(error)`` is the message for the seller."""

    def __init__(self, message: str, filename: str | None = None) -> None:
        super().__init__(message)
        self.filename = filename


@dataclass(frozen=True)
class EvidenceLimits:
    max_file_bytes: int = 10 * MB
    max_files: int = 10
    max_total_bytes: int = 40 * MB
    max_pixels: int = 40_000_000
    max_frames: int = 1000
    # Smaller than this on either side is not a screenshot.
    min_side: int = 16


DEFAULT_LIMITS = EvidenceLimits()


@dataclass(frozen=True)
class PreparedImage:
    """A validated, re-encoded upload held in memory, not yet written."""

    original_filename: str
    format: str  # detected input format: png, jpeg, webp, gif
    width: int
    height: int
    extension: str  # of the stored copy: .png or .jpg
    sha256: str
    perceptual_hash: str
    data: bytes = field(repr=False)
    thumbnail: bytes = field(repr=False)

    @property
    def byte_size(self) -> int:
        return len(self.data)


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
    """Validates and re-encodes every upload in memory; raises EvidenceRejected for the first bad one.

    ``files`` are (uploaded name, binary stream) pairs; streams are read from their current position.
    Byte limits are checked for all files before anything is decoded.
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
    return [_prepare_one(name, data, limits) for name, data in uploads]


def _read_limited(stream: IO[bytes], limit: int, name: str) -> bytes:
    buffer = bytearray()
    while len(buffer) <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - len(buffer)))
        if not chunk:
            return bytes(buffer)
        buffer += chunk
    raise EvidenceRejected(f"“{name}” is larger than {_size(limit)}.", name)


def _prepare_one(name: str, data: bytes, limits: EvidenceLimits) -> PreparedImage:
    if not data:
        raise EvidenceRejected(f"“{name}” is empty.", name)
    image, detected = _decode_first_frame(name, data, limits)
    if detected == "jpeg":
        stored = _encode(image, "JPEG", quality=JPEG_QUALITY)
        extension = ".jpg"
    else:
        stored = _encode(image, "PNG")
        extension = ".png"
    flat = _on_white(image)
    thumbnail = flat.copy()
    thumbnail.thumbnail(THUMBNAIL_BOX, Image.Resampling.LANCZOS)
    return PreparedImage(
        original_filename=name,
        format=detected,
        width=image.width,
        height=image.height,
        extension=extension,
        sha256=hashlib.sha256(stored).hexdigest(),
        # Hashed without alpha, so a transparent PNG and its flattened JPEG copy still match.
        perceptual_hash=str(imagehash.phash(flat)),
        data=stored,
        thumbnail=_encode(thumbnail, "JPEG", quality=THUMBNAIL_QUALITY),
    )


def _decode_first_frame(name: str, data: bytes, limits: EvidenceLimits) -> tuple[Image.Image, str]:
    """Returns frame 0, oriented and converted to RGB/RGBA with no metadata, and the input format."""
    max_pixels = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    too_many_pixels = EvidenceRejected(
        f"“{name}” has too many pixels; the limit is {max_pixels / 1e6:.3g} megapixels.", name
    )
    unreadable = EvidenceRejected(f"“{name}” is damaged or incomplete and could not be read.", name)

    declared = _declared_webp_size(data)
    if declared and declared[0] * declared[1] > max_pixels:
        raise too_many_pixels
    try:
        # Content decides; the name and the declared content type are never consulted.
        source = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise EvidenceRejected(f"“{name}” is not a PNG, JPEG, WebP or GIF image.", name) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels from None
    except Exception as error:  # hostile headers make Pillow raise all sorts; each one means refuse
        raise unreadable from error

    with source:
        width, height = source.size  # from the header; nothing is decoded yet
        if width * height > max_pixels:
            raise too_many_pixels
        if min(width, height) < limits.min_side:
            raise EvidenceRejected(
                f"“{name}” is too small to be a screenshot "
                f"(at least {limits.min_side}×{limits.min_side} pixels).",
                name,
            )
        # PNG (acTL), WebP and MPO state their frame count in the header. Pillow's n_frames for GIF
        # parses every frame, and a 10 MB GIF can hold half a million of them: we count up to the limit.
        if source.format == "GIF":
            frames = _gif_frame_count(data, stop=limits.max_frames + 1)
        else:
            frames = getattr(source, "n_frames", 1)
        if frames > limits.max_frames:
            raise EvidenceRejected(
                f"“{name}” has too many animation frames; the limit is {limits.max_frames}.", name
            )
        # A global someone else may have flipped: with it on, Pillow pads truncated files with grey.
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; evidence uploads refuse to run")
        detected = "jpeg" if source.format == "MPO" else source.format.lower()  # MPO is a JPEG variant
        try:
            source.load()  # decodes frame 0 only; verify() alone would not catch bad pixel data
            ImageOps.exif_transpose(source, in_place=True)
            mode = "RGBA" if detected != "jpeg" and source.has_transparency_data else "RGB"
            image = source.convert(mode)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise too_many_pixels from None
        except Exception as error:
            raise unreadable from error
    # convert() copies info, and Pillow's encoders write comment, ICC profile and transparency back
    # from it; a pixel-only image is what we store.
    image.info.clear()
    return image, detected


def _gif_frame_count(data: bytes, stop: int) -> int:
    """Counts image descriptors by walking the GIF block structure, without decoding; stops at ``stop``."""

    def skip_sub_blocks(pos: int) -> int:
        while (size := data[pos]) != 0:
            pos += size + 1
        return pos + 1

    frames = 0
    try:
        flags = data[10]
        pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # header + global colour table
        while frames < stop:
            if data[pos] == 0x2C:  # image descriptor, optional local colour table, LZW code size, data
                frames += 1
                flags = data[pos + 9]
                pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
                pos = skip_sub_blocks(pos + 1)
            elif data[pos] == 0x21:  # extension: label, then sub-blocks
                pos = skip_sub_blocks(pos + 2)
            else:  # trailer, or garbage that decoding frame 0 will judge
                break
    except IndexError:  # truncated; decoding frame 0 judges that too
        pass
    return frames


def _declared_webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size of a WebP. libwebp allocates the whole canvas as soon as Pillow opens the
    file, i.e. before our pixel check could run on ``Image.size``."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk, le = data[12:16], int.from_bytes
    if chunk == b"VP8X":
        return le(data[24:27], "little") + 1, le(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = le(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return le(data[26:28], "little") & 0x3FFF, le(data[28:30], "little") & 0x3FFF
    return None


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode != "RGBA":
        return image
    background = Image.new("RGB", image.size, "white")
    background.paste(image, mask=image.getchannel("A"))
    return background


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


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
        except BaseException:
            self.delete(stored_name)
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

    def _write(self, name: str, data: bytes) -> None:
        path = self.path_for(name)
        # O_EXCL: never overwrite, never follow a planted symlink. 0600: only the app reads evidence.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                # The database row that points here may commit right after; the bytes must be on disk.
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
