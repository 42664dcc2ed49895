"""One uploaded image, judged by its content and written anew.

Pure Python + Pillow + imagehash on bytes in memory; ``storage`` reads the uploads, applies the
count, byte and per-request pixel limits and stores what ``decode_image`` returns. The checks come in
two phases, so that a request of many files can be refused before any of them costs a decode:

1. no pixel decoding: ``check_structure`` walks the file's structure (floods of chunks, markers or
   blocks; progressive JPEG scans) and counts GIF frames; ``check_header`` checks the declared WebP
   canvas, then has Pillow read the header only: the type by content (PNG, JPEG, WebP, GIF), pixels
   and sides, animation frames. It returns a ``CheckedImage``.
2. ``decode_image`` decodes frame 0 of a ``CheckedImage`` in full and re-encodes it.

``prepare_image`` runs both phases for one file.

Re-encoding: JPEG stays JPEG (RGB, quality 90); PNG, GIF and WebP become PNG (alpha kept). EXIF
orientation is applied; metadata (EXIF, GPS, ICC, comments, text chunks) and anything appended after
the image data are left behind. Each result has a 320 px JPEG thumbnail and hashes: SHA-256 of the
stored file, and a perceptual hash. The picture is decoded once and never copied at full size; the
thumbnail and the perceptual hash come from one whole-factor reduction of it (``_reduced``).

Animated images keep their first frame only: evidence is a still screenshot and the queue shows one
picture. Frames are counted from the headers without decoding, and absurd counts are refused.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field

import imagehash
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from moderation_app.services.errors import DomainError

MB = 1024 * 1024
ACCEPTED_FORMATS = ["PNG", "JPEG", "WEBP", "GIF"]
JPEG_QUALITY = 90
THUMBNAIL_BOX = (320, 320)
THUMBNAIL_QUALITY = 80
# zlib level of stored PNGs. Pillow's default (6) takes 30-100 % longer than 4 for files 0-4 % smaller
# (1920×1080 screenshots: 75 vs 54 ms, 274 vs 285 KB); 3 is +14 % bytes. See docs/benchmarks.md.
PNG_COMPRESS_LEVEL = 4

PNG_MAX_TEXT_CHUNK = 256 * 1024
PNG_MAX_TEXT_MEMORY = 1 * MB


def configure_pillow() -> None:
    """Process-wide Pillow settings the checks below rely on; create_app calls this once.

    We drop text chunks when re-encoding, but Pillow still inflates zTXt/iTXt (and iCCP) while
    parsing, and a few kilobytes can expand to megabytes. Its defaults (1 MB per chunk, 64 MB per
    image) are far beyond what a screenshot's XMP needs; a PNG over these is refused as unreadable.

    Pillow only *warns* past Image.MAX_IMAGE_PIXELS (and raises DecompressionBombError past twice
    that). One process-wide filter makes it an error: warnings.catch_warnings() per upload would
    swap the global filter list, which is not thread-safe before Python 3.14. A filter can be lost
    (someone else's catch_warnings), so refusal doesn't rely on it: our header check is capped at
    Pillow's threshold.
    """
    PngImagePlugin.MAX_TEXT_CHUNK = PNG_MAX_TEXT_CHUNK
    PngImagePlugin.MAX_TEXT_MEMORY = PNG_MAX_TEXT_MEMORY
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
    # All files of one request together. Decoding and re-encoding cost 0.04-0.06 s per megapixel
    # (nine 40 MP PNGs of 5 KB each took 13.7 s and 430 MB), so this bounds an accepted request to
    # about 5-7 s; ten 4K screenshots (8.3 MP each) still fit.
    max_total_pixels: int = 120_000_000
    max_frames: int = 1000
    # Smaller than this on either side is not a screenshot.
    min_side: int = 16
    # libjpeg makes a pass over the whole image per scan: 32 bogus scans of a 40 MP picture take
    # about 4 s, 190,000 of them fit in 10 MB. Encoders write up to about a dozen.
    max_jpeg_scans: int = 32
    # Pillow walks chunks, markers and GIF blocks in Python, at some microseconds each: 10 MB of
    # empty ones took 13 s. A 10 MB GIF has about 41,000 sub-blocks; other files far fewer.
    max_parts: int = 100_000


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


@dataclass
class CheckedImage:
    """An upload that passed every check short of decoding: what its header says, and Pillow's
    image with only the header read, which ``decode_image`` goes on with (so no file is parsed
    twice). ``close()`` it if it is not decoded."""

    name: str
    format: str  # detected input format: png, jpeg, webp, gif
    width: int
    height: int
    data: bytes = field(repr=False)
    # None for a WebP: libwebp allocates the whole canvas as soon as Pillow opens the file, so a
    # WebP is not held open while the other files are checked; it is opened again to be decoded.
    opened: Image.Image | None = field(default=None, repr=False)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def close(self) -> None:
        opened, self.opened = self.opened, None
        if opened is not None:
            opened.close()


def prepare_image(name: str, data: bytes, limits: EvidenceLimits = DEFAULT_LIMITS) -> PreparedImage:
    """Checks, decodes and re-encodes one upload (``name`` is for messages only); raises
    EvidenceRejected with a message for the seller. ``storage.prepare_images`` does the same for a
    whole request, each phase for every file before the next."""
    checked = check_header(name, data, check_structure(name, data, limits), limits)
    return decode_image(checked, limits)


def pixel_limit(limits: EvidenceLimits) -> int:
    """The most pixels one file may have: within the per-file and per-request limits, and never
    past Pillow's own threshold (see configure_pillow)."""
    return min(limits.max_pixels, limits.max_total_pixels,
               Image.MAX_IMAGE_PIXELS or limits.max_pixels)


def check_structure(name: str, data: bytes, limits: EvidenceLimits) -> int:
    """Refuses empty files and files whose structure alone would cost minutes to read; returns the
    GIF frame count (0 for other formats), which comes from the same walk."""
    if not data:
        raise EvidenceRejected(f"“{name}” is empty.", name)
    too_costly = EvidenceRejected(
        f"“{name}” is built in an unusual way that would take too long to read; "
        "save it again as PNG or JPEG and attach that copy.",
        name,
    )
    parts = frames = 0
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        parts = _png_chunk_count(data, stop=limits.max_parts + 1)
    elif data.startswith(b"\xff\xd8"):
        parts, scans = _jpeg_segment_count(data, limits.max_parts + 1, limits.max_jpeg_scans + 1)
        if scans > limits.max_jpeg_scans:
            raise too_costly
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        parts, frames = _gif_block_count(data, limits.max_parts + 1, limits.max_frames + 1)
    if parts > limits.max_parts:
        raise too_costly
    return frames


def check_header(name: str, data: bytes, gif_frames: int, limits: EvidenceLimits) -> CheckedImage:
    """The type by content, sides, pixels and animation frames, from the header: nothing is
    decoded. ``gif_frames`` is what ``check_structure`` returned for these bytes."""
    if PngImagePlugin.MAX_TEXT_CHUNK > PNG_MAX_TEXT_CHUNK:
        raise RuntimeError("Pillow is not configured for evidence; call configure_pillow() "
                           "(create_app does)")
    max_pixels = pixel_limit(limits)
    declared = _declared_webp_size(data)
    if declared and declared[0] * declared[1] > max_pixels:
        raise _too_many_pixels(name, max_pixels)
    source = _open(name, data, max_pixels)
    try:
        width, height = source.size  # from the header; nothing is decoded yet
        if width * height > max_pixels:
            raise _too_many_pixels(name, max_pixels)
        if min(width, height) < limits.min_side:
            raise EvidenceRejected(
                f"“{name}” is too small to be a screenshot "
                f"(at least {limits.min_side}×{limits.min_side} pixels).",
                name,
            )
        # PNG (acTL), WebP and MPO state their frame count in the header. Pillow's n_frames for GIF
        # parses every frame, so GIF frames were counted with the structure, up to the limit.
        frames = gif_frames if source.format == "GIF" else getattr(source, "n_frames", 1)
        if frames > limits.max_frames:
            raise EvidenceRejected(
                f"“{name}” has too many animation frames; the limit is {limits.max_frames}.", name
            )
    except BaseException:
        source.close()
        raise
    # MPO is a JPEG with more pictures after the first.
    detected = "jpeg" if source.format == "MPO" else source.format.lower()
    checked = CheckedImage(name, detected, width, height, data, source)
    if detected == "webp":
        checked.close()
    return checked


def decode_image(checked: CheckedImage, limits: EvidenceLimits = DEFAULT_LIMITS) -> PreparedImage:
    """Decodes frame 0 of a checked upload in full and re-encodes it (see the module docstring);
    closes ``checked``. Truncated or corrupt pixel data is refused here."""
    image = _decode_first_frame(checked, limits)
    width, height = image.size
    if checked.format == "jpeg":
        stored = _encode(image, "JPEG", quality=JPEG_QUALITY)
        extension = ".jpg"
    else:
        stored = _encode(image, "PNG", compress_level=PNG_COMPRESS_LEVEL)
        extension = ".png"
    # Without alpha, so a transparent PNG and its flattened JPEG copy still match.
    flat = _on_white(image)
    factor, small = _reduced(flat)
    perceptual_hash = str(imagehash.phash(small))
    # What Image.thumbnail() does (reduce, then Lanczos over the reduced picture's exact extent), on
    # the reduction already made: the same pixels for pictures of ordinary proportions (the factor
    # is Pillow's), without copying the full picture first.
    thumbnail = small.resize(_thumbnail_size(width, height), Image.Resampling.LANCZOS,
                             box=(0, 0, width / factor, height / factor))
    return PreparedImage(
        original_filename=checked.name,
        format=checked.format,
        width=width,
        height=height,
        extension=extension,
        sha256=hashlib.sha256(stored).hexdigest(),
        perceptual_hash=perceptual_hash,
        data=stored,
        thumbnail=_encode(thumbnail, "JPEG", quality=THUMBNAIL_QUALITY),
    )


def _too_many_pixels(name: str, max_pixels: int) -> EvidenceRejected:
    return EvidenceRejected(
        f"“{name}” has too many pixels; the limit is {max_pixels / 1e6:.3g} megapixels.", name
    )


def _unreadable(name: str) -> EvidenceRejected:
    return EvidenceRejected(f"“{name}” is damaged or incomplete and could not be read.", name)


def _open(name: str, data: bytes, max_pixels: int) -> Image.Image:
    """Pillow's image with its header read."""
    try:
        # Content decides; the name and the declared content type are never consulted.
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise EvidenceRejected(f"“{name}” is not a PNG, JPEG, WebP or GIF image.", name) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(name, max_pixels) from None
    except Exception as error:  # hostile headers make Pillow raise all sorts; each one means refuse
        raise _unreadable(name) from error


def _decode_first_frame(checked: CheckedImage, limits: EvidenceLimits) -> Image.Image:
    """Frame 0, oriented and converted to RGB/RGBA with no metadata."""
    max_pixels = pixel_limit(limits)
    source, checked.opened = checked.opened, None
    if source is None:
        source = _open(checked.name, checked.data, max_pixels)
    with source:
        # A global someone else may have flipped: with it on, Pillow pads truncated files with grey.
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            raise RuntimeError(
                "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; evidence uploads refuse to run"
            )
        try:
            source.load()  # decodes frame 0 only; verify() alone would not catch bad pixel data
            ImageOps.exif_transpose(source, in_place=True)
            mode = "RGBA" if checked.format != "jpeg" and source.has_transparency_data else "RGB"
            # convert() to the same mode is a full copy: 48 MB and ~25 ms for 12 MP.
            image = source if source.mode == mode else source.convert(mode)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(checked.name, max_pixels) from None
        except Exception as error:
            raise _unreadable(checked.name) from error
    # Pillow's encoders write comment, ICC profile and transparency back from info (which convert()
    # copies); a pixel-only image is what we store.
    image.info.clear()
    return image


def _png_chunk_count(data: bytes, stop: int) -> int:
    """Chunks up to IEND, stepping over each by its length field; stops at ``stop``."""
    chunks, pos = 0, 8
    while chunks < stop and pos + 8 <= len(data):
        chunks += 1
        if data[pos + 4 : pos + 8] == b"IEND":
            break
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")  # length, type, data, CRC
    return chunks


# 0xFF then a code; 0x00 after 0xFF is a stuffed data byte and 0xFF a fill byte. Inside a scan's
# entropy-coded data, restart markers (0xD0-0xD7) belong to the scan.
_JPEG_MARKER = re.compile(rb"\xff([^\x00\xff])")
_JPEG_SCAN_END = re.compile(rb"\xff([^\x00\xff\xd0-\xd7])")


def _jpeg_segment_count(data: bytes, stop: int, stop_scans: int) -> tuple[int, int]:
    """(segments, scans) of the first image, walked as libjpeg reads it: segments skipped by their
    length, garbage between them skipped, scans up to the next marker; stops at either limit."""
    segments = scans = 0
    pos = 2  # after SOI
    while segments < stop and scans < stop_scans:
        marker = _JPEG_MARKER.search(data, pos)
        if marker is None:
            break
        # Fill and junk bytes before a marker are legal, and Pillow steps over them one by one:
        # each costs as much as a segment.
        segments += 1 + (marker.start() - pos)
        code, pos = marker[1][0], marker.end()
        if code == 0xD9:  # EOI: the image ends; an MPO's further images are never decoded
            break
        if 0xD0 <= code <= 0xD8 or code == 0x01:  # markers without a length
            continue
        pos += int.from_bytes(data[pos : pos + 2], "big")
        if code == 0xDA:  # start of scan: its header, then entropy-coded data up to a marker
            scans += 1
            scan_end = _JPEG_SCAN_END.search(data, pos)
            if scan_end is None:
                break
            pos = scan_end.start()
    return segments, scans


def _gif_block_count(data: bytes, stop: int, stop_frames: int) -> tuple[int, int]:
    """(blocks and sub-blocks, frames) by walking the GIF block structure without decoding; stops
    at either limit. Sub-blocks count as parts: Pillow reads an extension's one by one."""
    parts = frames = 0
    try:
        flags = data[10]
        pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # header + global colour table
        while parts < stop and frames < stop_frames:
            if data[pos] == 0x2C:  # image descriptor, optional local colour table, LZW code size
                frames += 1
                flags = data[pos + 9]
                pos += 11 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            elif data[pos] == 0x21:  # extension introducer and label
                pos += 2
            else:  # trailer, or garbage that decoding frame 0 will judge
                break
            parts += 1
            while (size := data[pos]) != 0 and parts < stop:  # sub-blocks, up to a zero size
                parts += 1
                pos += size + 1
            pos += 1
    except IndexError:  # truncated; decoding frame 0 judges that too
        pass
    return parts, frames


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


def _reduced(image: Image.Image) -> tuple[int, Image.Image]:
    """(factor, ``image`` shrunk by it): a whole factor (a box filter, one pass over the pixels) that
    keeps at least twice the thumbnail on the long side, as Image.thumbnail() does, and 256 px on
    the short side, for the perceptual hash. The reduction is rounded up: its last row and column
    average what is left.

    The hash resizes to 32×32 with Lanczos: from the full 12 MP picture that alone cost a third of
    the pipeline (77 of 190 ms). From this reduction the hash of 62 of 68 test pictures is the one
    the full picture gave, and 2-4 bits off for the rest: closer than the full picture's hash stays
    when re-saved as a JPEG of quality 70 (15 of 68 off, up to 4), and within the near-duplicate
    distance (6). Pictures under 1280 px on the long side are not reduced, so hash as before.
    """
    factor = min(max(image.size) // (2 * max(THUMBNAIL_BOX)), min(image.size) // 256)
    return (factor, image.reduce(factor)) if factor > 1 else (1, image)


def _thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """Within THUMBNAIL_BOX with the picture's proportions, never enlarged."""
    box_width, box_height = THUMBNAIL_BOX
    if width <= box_width and height <= box_height:
        return width, height
    if width * box_height >= height * box_width:
        return box_width, max(round(height * box_width / width), 1)
    return max(round(width * box_height / height), 1), box_height


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
