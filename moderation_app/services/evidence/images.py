"""One uploaded image, judged by its content and written anew: the Pillow half of the checks.

Pillow + imagehash on bytes in memory; ``storage`` reads the uploads, applies the count, byte and
per-request pixel limits and stores what ``decode_image`` returns. The checks come in two phases, so
that a request of many files can be refused before any of them costs a decode:

1. no pixel decoding: ``structure.check_structure`` walks the file's structure without Pillow
   (floods of chunks, markers or blocks; progressive JPEG scans) and counts GIF frames;
   ``check_header`` checks the declared WebP canvas (``structure.declared_webp_size``), then has
   Pillow read the header only: the type by content (PNG, JPEG, WebP, GIF), pixels and sides,
   animation frames. It returns a ``CheckedImage``.
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
import warnings
from dataclasses import dataclass, field

import imagehash
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

# Shared with structure.py; the rest of the app imports these names from here.
from moderation_app.services.evidence.limits import DEFAULT_LIMITS, MB, EvidenceLimits, EvidenceRejected
from moderation_app.services.evidence.structure import check_structure, declared_webp_size

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




def check_header(name: str, data: bytes, gif_frames: int, limits: EvidenceLimits) -> CheckedImage:
    """The type by content, sides, pixels and animation frames, from the header: nothing is
    decoded. ``gif_frames`` is what ``check_structure`` returned for these bytes."""
    if PngImagePlugin.MAX_TEXT_CHUNK > PNG_MAX_TEXT_CHUNK:
        raise RuntimeError("Pillow is not configured for evidence; call configure_pillow() "
                           "(create_app does)")
    max_pixels = pixel_limit(limits)
    declared = declared_webp_size(data)
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
