"""A corpus of hostile uploads, each made here with Pillow or raw bytes, posted through the real
deletion-request form: bombs of every kind, floods, truncated and disguised files, polyglots,
metadata payloads and hostile file names. Whatever arrives, the answer is never a 500: a refusal
names the file on the form and stores nothing, or the file is stored re-encoded under our name with
its payload gone. docs/evidence.md lists the corpus; the pipeline's unit tests are in
tests/services/evidence/test_images.py.

One app, database and signed-in seller serve the whole module (signing in is a deliberately slow
scrypt check); each case files on a fresh review and compares what is stored before and after.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import re
import secrets
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from markupsafe import escape
from PIL import Image, ImageFile, PngImagePlugin, WebPImagePlugin

from moderation_app.models import Evidence, User
from moderation_app.models.users import Role
from tests.helpers.accounts import make_user
from tests.helpers.clients import FormClient, page_text, signed_in
from tests.helpers.database import app_on_test_database
from tests.helpers.images import encode, picture, png, png_chunk
from tests.helpers.marketplace import add_review
from tests.helpers.requests import EXPLANATION, submit, submitted_id
from tests.helpers.stored import evidence_rows, row_counts, stored_files

STORED_NAME = re.compile(r"[0-9a-f]{32}\.(png|jpg)")
NOT_AN_IMAGE = "is not a PNG, JPEG, WebP or GIF image."
DAMAGED = "is damaged or incomplete and could not be read."
TOO_MANY_PIXELS = "has too many pixels; the limit is 40 megapixels."
TOO_MANY_FRAMES = "has too many animation frames; the limit is 1000."
TOO_COSTLY = "is built in an unusual way that would take too long to read"
# What production does with Pillow's warnings about malformed headers: they are not errors there.
LIKE_PRODUCTION = pytest.mark.filterwarnings("ignore::UserWarning:PIL")

pytestmark = pytest.mark.hostile


@dataclass(frozen=True)
class Desk:
    app: Flask
    seller: User
    client: FormClient


@pytest.fixture(scope="module")
def desk(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The ``app`` fixture, for a module: the same database and clean-up."""
    with app_on_test_database(migrated_database, tmp_path_factory.mktemp("hostile")) as app:
        app.config["EVIDENCE_DAILY_QUOTA"] = 1000  # the corpus stores more than a seller's day
        seller = make_user(app, "seller@example.com", Role.SELLER)
        yield Desk(app, seller, signed_in(app, seller))


@pytest.fixture
def review_id(desk: Desk) -> str:
    return add_review(desk.app, desk.seller)


class Guard:
    """Trips when Pillow goes further into a hostile file than it may: ``arm("open")``, Pillow
    must not even parse it; ``arm("decode")``, headers only (libwebp allocates the canvas when it
    opens). A trip raises inside the pipeline, which refuses the file anyway: trips are recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.trips: list[str] = []

    def arm(self, stage: str) -> None:
        targets = [(ImageFile.ImageFile, "load"), (WebPImagePlugin.WebPImageFile, "load"),
                   (WebPImagePlugin.WebPImageFile, "_open")]
        if stage == "open":
            targets.append((Image, "open"))
        for owner, attribute in targets:
            trip = self._trip(f"{owner.__name__}.{attribute}")
            self.monkeypatch.setattr(owner, attribute, trip)

    def _trip(self, what: str) -> Callable[..., None]:
        def trip(*args, **kwargs) -> None:
            self.trips.append(what)
            raise AssertionError(f"{what} reached")
        return trip


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Guard:
    return Guard(monkeypatch)


# --- making hostile files ------------------------------------------------------------------------

def screenshot(fmt: str = "PNG", size: tuple[int, int] = (120, 80), **params) -> bytes:
    return encode(picture(size), fmt, **params)


@functools.cache
def deflated_zeros(size: int) -> bytes:
    """zlib data inflating to ``size`` zero bytes, made a megabyte at a time."""
    compressor, block = zlib.compressobj(9), bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + compressor.compress(bytes(size % len(block))) + compressor.flush()


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def after_soi(jpeg: bytes, segments: bytes) -> bytes:
    return jpeg[:2] + segments + jpeg[2:]


def gif_blocks_at(gif: bytes) -> int:
    """Where the blocks start: after the header, screen descriptor and global colour table."""
    flags = gif[10]
    return 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)


def gif_first_descriptor_at(gif: bytes) -> int:
    pos = gif_blocks_at(gif)
    while gif[pos] == 0x21:  # an extension: introducer, label, sub-blocks up to a zero size
        pos += 2
        while gif[pos]:
            pos += gif[pos] + 1
        pos += 1
    assert gif[pos] == 0x2C
    return pos


def zip_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def exif_block(*entries: tuple[int, int, int, int], order: str = "little") -> bytes:
    """An APP1 EXIF payload whose IFD0 holds (tag, type, count, value) entries."""
    fmt = "<" if order == "little" else ">"
    ifd = struct.pack(fmt + "H", len(entries))
    ifd += b"".join(struct.pack(fmt + "HHII", *entry) for entry in entries) + bytes(4)
    tiff_header = (b"II*\x00" if order == "little" else b"MM\x00*") + struct.pack(fmt + "I", 8)
    return b"Exif\x00\x00" + tiff_header + ifd


# Bombs: a small file that claims, inflates to or costs far more than it is.

def png_claiming_65535_square() -> bytes:
    return png(65535, 65535, zlib.compress(bytes(70_000)))


def png_deflating_to_64_megapixels() -> bytes:
    rows = b"".join(b"\x00" + bytes(1000) for _ in range(8000))  # 8000 x 8000, 1 bit per pixel
    return png(8000, 8000, zlib.compress(rows, 9), bit_depth=1)


def png_of_40_megapixels_in_5_kb() -> bytes:
    """6324 x 6324 at 1 bit per pixel, just under the per-file limit: legal, and costly to decode."""
    rows = b"".join(b"\x00" + bytes(791) for _ in range(6324))
    return png(6324, 6324, zlib.compress(rows, 9), bit_depth=1)


def jpeg_claiming_65500_square() -> bytes:
    jpeg = screenshot("JPEG")
    sof = jpeg.index(b"\xff\xc0")  # marker, length, precision, then height and width
    return jpeg[:sof + 5] + struct.pack(">HH", 65500, 65500) + jpeg[sof + 9:]


def gif_with_65535_square_screen() -> bytes:
    gif = screenshot("GIF")
    return gif[:6] + struct.pack("<HH", 65535, 65535) + gif[10:]


def gif_frame_larger_than_its_screen() -> bytes:
    gif = screenshot("GIF")
    descriptor = gif_first_descriptor_at(gif)
    return gif[:descriptor + 5] + struct.pack("<HH", 65535, 65535) + gif[descriptor + 9:]


def webp_canvas_16384_square() -> bytes:
    canvas = b"\x00" * 4 + (16383).to_bytes(3, "little") * 2  # flags, reserved, width-1, height-1
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(canvas)) + canvas
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_lossless_claiming_16384_square() -> bytes:
    webp = screenshot("WEBP", lossless=True)
    assert webp[12:16] == b"VP8L" and webp[20] == 0x2F
    bits = struct.unpack("<I", webp[21:25])[0] & ~((1 << 28) - 1) | 16383 | 16383 << 14
    return webp[:21] + struct.pack("<I", bits) + webp[25:]


def gif_with_5000_frames() -> bytes:
    gif = encode(Image.new("P", (32, 32), 1), "GIF")
    # A 1x1 frame: descriptor, LZW minimum code size 2, one sub-block (clear, 0, end), terminator.
    frame = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return gif[:-1] + frame * 5000 + b";"


def apng_claiming_2_billion_frames() -> bytes:
    control = struct.pack(">IIIIIHHBB", 0, 64, 64, 0, 0, 1, 10, 0, 0)
    return png(before_idat=png_chunk(b"acTL", struct.pack(">II", 2**31, 0))
               + png_chunk(b"fcTL", control))


def png_ztxt_inflating_to_32_mb() -> bytes:
    return png(before_idat=png_chunk(b"zTXt", b"Comment\x00\x00" + deflated_zeros(32 * 1024**2)))


def png_itxt_xmp_inflating_to_32_mb() -> bytes:
    header = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00"  # compressed, no language, no translation
    return png(before_idat=png_chunk(b"iTXt", header + deflated_zeros(32 * 1024**2)))


def png_iccp_inflating_to_32_mb() -> bytes:
    return png(before_idat=png_chunk(b"iCCP", b"icc\x00\x00" + deflated_zeros(32 * 1024**2)))


def png_with_100_text_chunks_of_200_kb() -> bytes:
    text = deflated_zeros(200_000)
    return png(before_idat=b"".join(png_chunk(b"zTXt", b"k%d\x00\x00" % n + text)
                                    for n in range(100)))


def png_chunk_claiming_2_gb() -> bytes:
    return png()[:33] + struct.pack(">I", 2**31 - 1) + b"tEXt" + b"x" * 100


def jpeg_with_2000_progressive_scans() -> bytes:
    jpeg = encode(Image.new("L", (1024, 1024), 128), "JPEG", progressive=True)
    last_scan = jpeg[jpeg.rindex(b"\xff\xc4"):-2]  # its Huffman table, header and data
    return jpeg[:-2] + last_scan * 2000 + jpeg[-2:]


def png_with_100_001_empty_chunks() -> bytes:
    return png(before_idat=png_chunk(b"prIv", b"") * 100_001)


def jpeg_with_100_001_empty_comments() -> bytes:
    return after_soi(screenshot("JPEG"), b"\xff\xfe\x00\x02" * 100_001)


def jpeg_with_fill_bytes(fill: bytes):
    """200 KB of legal fill (0xFF), stuffed pairs or junk before a marker: Pillow steps over
    them one byte at a time (9 MB of them cost seconds)."""
    def make() -> bytes:
        return after_soi(screenshot("JPEG"), fill * (200_000 // len(fill)))
    return make


def gif_with_100_001_empty_extensions() -> bytes:
    gif = screenshot("GIF")
    start = gif_blocks_at(gif)
    return gif[:start] + b"\x21\xfe\x00" * 100_001 + gif[start:]


BOMBS = [
    pytest.param(png_claiming_65535_square, "decode", TOO_MANY_PIXELS,
                 id="png-ihdr-65535x65535"),
    pytest.param(png_deflating_to_64_megapixels, "decode", TOO_MANY_PIXELS,
                 id="png-deflate-bomb-64-megapixels"),
    pytest.param(jpeg_claiming_65500_square, "decode", TOO_MANY_PIXELS, id="jpeg-sof-65500x65500"),
    pytest.param(gif_with_65535_square_screen, "decode", TOO_MANY_PIXELS,
                 id="gif-screen-65535x65535"),
    pytest.param(gif_frame_larger_than_its_screen, "decode", TOO_MANY_PIXELS,
                 id="gif-frame-larger-than-screen"),
    pytest.param(webp_canvas_16384_square, "decode", TOO_MANY_PIXELS, id="webp-vp8x-canvas-bomb"),
    pytest.param(webp_lossless_claiming_16384_square, "decode", TOO_MANY_PIXELS,
                 id="webp-vp8l-16384x16384"),
    pytest.param(gif_with_5000_frames, "decode", TOO_MANY_FRAMES, id="gif-5000-frames"),
    pytest.param(apng_claiming_2_billion_frames, "decode", TOO_MANY_FRAMES,
                 id="apng-actl-2-billion-frames"),
    pytest.param(png_ztxt_inflating_to_32_mb, "decode", DAMAGED, id="png-ztxt-bomb"),
    pytest.param(png_itxt_xmp_inflating_to_32_mb, "decode", DAMAGED, id="png-itxt-xmp-bomb"),
    pytest.param(png_iccp_inflating_to_32_mb, "decode", DAMAGED, id="png-iccp-bomb"),
    pytest.param(png_with_100_text_chunks_of_200_kb, "decode", DAMAGED, id="png-text-memory-bomb"),
    pytest.param(png_chunk_claiming_2_gb, "decode", DAMAGED, id="png-chunk-length-2gb"),
    pytest.param(jpeg_with_2000_progressive_scans, "open", TOO_COSTLY,
                 id="jpeg-progressive-scan-bomb"),
    pytest.param(png_with_100_001_empty_chunks, "open", TOO_COSTLY, id="png-chunk-flood"),
    pytest.param(jpeg_with_100_001_empty_comments, "open", TOO_COSTLY, id="jpeg-marker-flood"),
    pytest.param(gif_with_100_001_empty_extensions, "open", TOO_COSTLY, id="gif-block-flood"),
    pytest.param(jpeg_with_fill_bytes(b"\xff"), "open", TOO_COSTLY, id="jpeg-ff-fill-flood"),
    pytest.param(jpeg_with_fill_bytes(b"\xff\x00"), "open", TOO_COSTLY, id="jpeg-ff00-flood"),
    pytest.param(jpeg_with_fill_bytes(b"\x00"), "open", TOO_COSTLY, id="jpeg-junk-flood"),
]


# Broken or disguised: nothing to decode, or not one of our four formats whatever the name says.

def cut_in_half(fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        noise = random.Random(7).randbytes(96 * 96 * 3)  # incompressible: half is half the picture
        whole = encode(Image.frombytes("RGB", (96, 96), noise), fmt)
        return whole[: len(whole) // 2]
    return make


def as_format(fmt: str) -> Callable[[], bytes]:
    return lambda: screenshot(fmt, size=(64, 64))


BROKEN_OR_DISGUISED = [
    pytest.param(lambda: b"", "blank.png", "is empty.", id="zero-bytes"),
    pytest.param(cut_in_half("PNG"), "cut.png", DAMAGED, id="truncated-png"),
    pytest.param(cut_in_half("JPEG"), "cut.jpg", DAMAGED, id="truncated-jpeg"),
    pytest.param(cut_in_half("GIF"), "cut.gif", DAMAGED, id="truncated-gif"),
    pytest.param(cut_in_half("WEBP"), "cut.webp", DAMAGED, id="truncated-webp"),
    pytest.param(lambda: b"<!doctype html><script>alert(document.cookie)</script>",
                 "<img src=x onerror=alert(1)>.png", NOT_AN_IMAGE, id="html-renamed-png"),
    pytest.param(lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                         b"<script>alert(1)</script></svg>",
                 "vector.png", NOT_AN_IMAGE, id="svg-with-script-renamed-png"),
    pytest.param(lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript "
                         b"/JS (app.alert(1)) >> >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
                 "invoice.jpg", NOT_AN_IMAGE, id="pdf-renamed-jpg"),
    pytest.param(as_format("BMP"), "shot.png", NOT_AN_IMAGE, id="bmp-renamed-png"),
    pytest.param(as_format("TIFF"), "shot.png", NOT_AN_IMAGE, id="tiff-renamed-png"),
    pytest.param(as_format("ICO"), "shot.png", NOT_AN_IMAGE, id="ico-renamed-png"),
    pytest.param(lambda: b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "sig.png",
                 NOT_AN_IMAGE, id="png-signature-then-html"),
]


# Polyglots and payloads: a real image carrying something else, which must not survive.

PAYLOAD = b"<script>alert('HOSTILE-PAYLOAD')</script>"
ZIP_PAYLOAD = zip_archive({"index.html": PAYLOAD, "META-INF/MANIFEST.MF": b"Main-Class: Evil\n"})


def png_then_zip() -> bytes:
    return screenshot("PNG") + ZIP_PAYLOAD


def gifar() -> bytes:
    return screenshot("GIF") + ZIP_PAYLOAD  # a GIF that is also a Java archive


def jpeg_then_html() -> bytes:
    return screenshot("JPEG") + b"<html>" + PAYLOAD + b"</html>"


def jpeg_with_script_in_comment() -> bytes:
    return screenshot("JPEG", comment=PAYLOAD)


def png_with_script_in_text_chunks() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PAYLOAD.decode())
    info.add_itxt("XML:com.adobe.xmp", PAYLOAD.decode(), zip=True)
    return screenshot("PNG", pnginfo=info)


def jpeg_with_2_mb_of_exif_and_icc() -> bytes:
    exif = jpeg_segment(0xE1, exif_block() + PAYLOAD + bytes(60_000))
    icc = b"".join(jpeg_segment(0xE2, b"ICC_PROFILE\x00" + bytes([n, 16]) + PAYLOAD
                                + bytes(60_000)) for n in range(1, 17))
    return after_soi(screenshot("JPEG"), exif * 16 + icc)


def png_with_2_mb_exif_chunk() -> bytes:
    data = screenshot("PNG")
    exif = exif_block(order="big")[6:] + PAYLOAD + bytes(2 * 1024**2)
    return data[:33] + png_chunk(b"eXIf", exif) + data[33:]


def png_whose_image_data_inflates_to_32_mb() -> bytes:
    # Only the 64x64 picture is inflated; the rest of the stream is never read.
    return png(64, 64, deflated_zeros(32 * 1024**2)) + PAYLOAD


def apng_with_invalid_frame_count() -> bytes:
    control = struct.pack(">IIIIIHHBB", 0, 64, 64, 0, 0, 1, 10, 0, 0)
    return png(before_idat=png_chunk(b"acTL", struct.pack(">II", 0, 0))
               + png_chunk(b"fcTL", control) + png_chunk(b"tEXt", b"Comment\x00" + PAYLOAD))


def jpeg_with_malformed_mpo_index() -> bytes:
    garbage_index = b"MPF\x00" + b"MM\x00*\x00\x00\x00\x08" + b"\xff" * 20 + PAYLOAD
    return after_soi(screenshot("JPEG"), jpeg_segment(0xE2, garbage_index))


def jpeg_with_corrupt_exif_turned_90_degrees() -> bytes:
    # Orientation 6, then a Make tag whose data would lie 2 GB beyond the file.
    exif = exif_block((0x0112, 3, 1, 6), (0x010F, 2, 2**31 - 1, 40))
    return after_soi(screenshot("JPEG"), jpeg_segment(0xE1, exif + PAYLOAD))


CARRIERS = [
    pytest.param(png_then_zip, "png", (120, 80), id="png-zip-polyglot"),
    pytest.param(gifar, "gif", (120, 80), id="gifar"),
    pytest.param(jpeg_then_html, "jpeg", (120, 80), id="jpeg-then-html"),
    pytest.param(jpeg_with_script_in_comment, "jpeg", (120, 80), id="jpeg-comment-script"),
    pytest.param(png_with_script_in_text_chunks, "png", (120, 80), id="png-text-chunk-script"),
    pytest.param(jpeg_with_2_mb_of_exif_and_icc, "jpeg", (120, 80), id="jpeg-2mb-exif-and-icc"),
    pytest.param(png_with_2_mb_exif_chunk, "png", (120, 80), id="png-2mb-exif-chunk"),
    pytest.param(png_whose_image_data_inflates_to_32_mb, "png", (64, 64), id="png-idat-zlib-bomb"),
    # Pillow warns and reads these as a still PNG / a plain JPEG / EXIF minus the broken tag.
    pytest.param(apng_with_invalid_frame_count, "png", (64, 64), marks=LIKE_PRODUCTION,
                 id="apng-invalid-actl"),
    pytest.param(jpeg_with_malformed_mpo_index, "jpeg", (120, 80), marks=LIKE_PRODUCTION,
                 id="jpeg-malformed-mpo"),
    pytest.param(jpeg_with_corrupt_exif_turned_90_degrees, "jpeg", (80, 120),
                 marks=LIKE_PRODUCTION, id="jpeg-corrupt-exif-orientation"),
]


HOSTILE_NAMES = [
    pytest.param("../../etc/passwd.png", "passwd.png", id="path-traversal"),
    pytest.param("C:\\Windows\\System32\\shot.png", "shot.png", id="windows-path"),
    pytest.param("shot\x00.php.png", "shot.php.png", id="nul-byte"),
    pytest.param("a\r\nSet-Cookie: session=x\r\n\r\n.png", "aSet-Cookie: session=x.png",
                 id="crlf-header-injection"),
    pytest.param("invoice\u202egnp.exe", "invoicegnp.exe", id="rtl-override"),
    pytest.param("CON", "CON", id="windows-reserved-name"),
    pytest.param("\"><img src=x onerror=alert(1)>.png", "\"><img src=x onerror=alert(1)>.png",
                 id="html-in-name"),
    pytest.param("..", "unnamed", id="dot-dot"),
    pytest.param("\u200b\u200e\x7f", "unnamed", id="only-invisible-characters"),
    pytest.param("x" * 5000 + ".png", "x" * 255, id="5000-characters"),
    pytest.param("\U0001F600" * 300, "\U0001F600" * 255, id="300-emoji"),
]


# --- posting and looking -------------------------------------------------------------------------

def upload(client: FormClient, review_id: str, data: bytes, filename: str,
           content_type: str = "image/png"):
    """Files a request with one file, the multipart body built by hand as a script would send it:
    the name as RFC 5987 ``filename*``, so NUL, CR and LF arrive intact, and any declared type.
    (Werkzeug's test client spools bodies over 500 KB to a temporary file it never closes.)"""
    boundary = secrets.token_hex(16)
    fields = {"csrf_token": client.csrf_token(), "reason": "wrong_offer",
              "explanation": EXPLANATION}
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                    f"{value}\r\n".encode() for key, value in fields.items())
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"; "
             f"filename*=UTF-8''{quote(filename, safe='')}\r\n"
             f"Content-Type: {content_type}\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/seller/reviews/{review_id}/deletion-request", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def snapshot(app: Flask) -> tuple[dict[str, int], list[str]]:
    return row_counts(app), stored_files(app)


def assert_refused(desk: Desk, response, before, shown_name: str, message: str) -> None:
    assert response.status_code == 422
    assert str(escape(f"“{shown_name}” {message}")) in page_text(response)
    assert snapshot(desk.app) == before


def new_evidence(desk: Desk, response, before) -> Evidence:
    """The one evidence row the accepted upload added, after checking that only it and its two
    files were added."""
    request_id = submitted_id(response)
    [item] = [row for row in evidence_rows(desk.app) if row.request_id == request_id]
    counts, files = snapshot(desk.app)
    assert counts["evidence"] == before[0]["evidence"] + 1
    assert sorted(set(files) - set(before[1])) == sorted([item.stored_name, item.thumbnail_name])
    assert set(before[1]) <= set(files)
    return item


def stored_bytes(desk: Desk, name: str) -> bytes:
    return (Path(desk.app.config["UPLOAD_DIR"]) / name).read_bytes()


# --- the corpus ----------------------------------------------------------------------------------

@pytest.mark.parametrize("make, stage, message", BOMBS)
def test_bomb_is_refused_before_decoding_and_nothing_is_stored(desk, review_id, guard, make, stage,
                                                               message):
    data = make()
    assert len(data) < 2 * 1024**2  # small files, every one
    before = snapshot(desk.app)
    guard.arm(stage)

    response = upload(desk.client, review_id, data, "bomb.png")

    assert guard.trips == []
    assert_refused(desk, response, before, "bomb.png", message)


@pytest.mark.parametrize("make, name, message", BROKEN_OR_DISGUISED)
def test_broken_or_disguised_file_is_refused_by_its_content_and_nothing_is_stored(
        desk, review_id, make, name, message):
    before = snapshot(desk.app)

    response = upload(desk.client, review_id, make(), name)

    assert_refused(desk, response, before, name, message)


@pytest.mark.parametrize("make, detected, size", CARRIERS)
def test_image_carrying_a_payload_is_stored_re_encoded_without_it(desk, review_id, make, detected,
                                                                  size):
    data = make()
    assert PAYLOAD in data
    before = snapshot(desk.app)

    response = upload(desk.client, review_id, data, "carrier.png")

    item = new_evidence(desk, response, before)
    content = stored_bytes(desk, item.stored_name)
    thumbnail = stored_bytes(desk, item.thumbnail_name)
    extension = ".jpg" if detected == "jpeg" else ".png"
    assert STORED_NAME.fullmatch(item.stored_name) and item.stored_name.endswith(extension)
    assert (item.format, item.width, item.height) == (detected, *size)
    assert item.sha256 == hashlib.sha256(content).hexdigest()
    for marker in (PAYLOAD, b"HOSTILE-PAYLOAD", b"PK\x03\x04", b"Exif", b"ICC_PROFILE", b"MPF"):
        assert marker not in content and marker not in thumbnail
    stored = Image.open(io.BytesIO(content))
    stored.load()
    assert (stored.format, stored.size) == ({"jpeg": "JPEG"}.get(detected, "PNG"), size)
    assert not set(stored.info) & {"exif", "icc_profile", "comment", "Comment", "XML:com.adobe.xmp"}


@pytest.mark.parametrize("declared, name", [("image/png", "chat.png"), ("text/html", "page.html")])
def test_declared_type_and_extension_are_ignored_for_content(desk, review_id, declared, name):
    before = snapshot(desk.app)

    response = upload(desk.client, review_id, screenshot("JPEG"), name, content_type=declared)

    item = new_evidence(desk, response, before)
    assert (item.format, item.original_filename) == ("jpeg", name)
    assert item.stored_name.endswith(".jpg")


@pytest.mark.parametrize("raw, shown", HOSTILE_NAMES)
def test_hostile_file_name_is_shown_sanitised_and_escaped_and_never_used_for_storage(
        desk, review_id, raw, shown):
    before = snapshot(desk.app)

    response = upload(desk.client, review_id, screenshot("PNG"), raw)

    item = new_evidence(desk, response, before)
    assert item.original_filename == shown
    assert STORED_NAME.fullmatch(item.stored_name)
    assert all(re.fullmatch(r"[0-9a-f]{32}(\.png|\.jpg|\.thumb\.jpg)", name)
               for name in stored_files(desk.app))
    page = page_text(desk.client.get(f"/seller/requests/{item.request_id}"))
    assert f'title="{escape(shown)}"' in page
    assert "<img src=x" not in page and "\u202e" not in page and "\x00" not in page
    served = desk.client.get(f"/evidence/{item.id}")
    assert served.status_code == 200
    assert served.headers["Content-Disposition"].endswith(f"evidence-{item.id}.png")
    served.close()


def test_refusal_message_shows_the_hostile_name_sanitised_and_escaped(desk, review_id):
    before = snapshot(desk.app)

    response = upload(desk.client, review_id, png_claiming_65535_square(),
                      "../../<b>bomb</b>\u202e.png")

    assert_refused(desk, response, before, "b>.png", TOO_MANY_PIXELS)
    assert "<b>bomb" not in page_text(response)


@pytest.mark.parametrize("big_files, message", [
    (9, "Together the screenshots have more than 120 megapixels"),
    (2, "“tiny.png” is too small to be a screenshot"),
], ids=["nine-40-megapixel-pngs-then-a-tiny-one", "two-40-megapixel-pngs-then-a-tiny-one"])
def test_costly_files_refused_together_are_never_decoded(desk, review_id, guard, big_files, message):
    big = png_of_40_megapixels_in_5_kb()
    files = [(big, f"big{n}.png") for n in range(big_files)] + [(png(8, 8), "tiny.png")]
    before = snapshot(desk.app)
    guard.arm("decode")

    response = submit(desk.client, review_id, files=files)

    assert guard.trips == []
    assert response.status_code == 422
    assert str(escape(message)) in page_text(response)
    assert snapshot(desk.app) == before
