"""The evidence upload pipeline: content-only type checks, limits, re-encoding, storage."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import subprocess
import sys
import warnings
import zlib
from dataclasses import asdict
from pathlib import Path

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from moderation_app.services.errors import DomainError
from moderation_app.services.evidence.storage import (
    EvidenceLimits,
    EvidenceRejected,
    EvidenceStore,
    PreparedImage,
    display_filename,
    prepare_images,
)
from tests.helpers.images import encode, noise, picture, png

HEX32 = re.compile(r"[0-9a-f]{32}")


# --- building test images -------------------------------------------------------------------------


def upload(data: bytes, name: str = "shot.png") -> list[tuple[str, io.BytesIO]]:
    return [(name, io.BytesIO(data))]


def prepare_one(data: bytes, name: str = "shot.png", limits: EvidenceLimits | None = None) -> PreparedImage:
    [prepared] = prepare_images(upload(data, name), limits or EvidenceLimits())
    return prepared


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to decode pixel data fails the refusal message the test expects."""

    def load(self):
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


# --- accepted formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "detected", "stored_format", "extension"),
    [
        ("PNG", "png", "PNG", ".png"),
        ("JPEG", "jpeg", "JPEG", ".jpg"),
        ("WEBP", "webp", "PNG", ".png"),
        ("GIF", "gif", "PNG", ".png"),
    ],
)
def test_each_accepted_format_is_decoded_and_reencoded(fmt, detected, stored_format, extension):
    original = encode(picture((120, 80)), fmt) + b"TRAILING-MARKER"

    prepared = prepare_one(original, name="shot.bin")

    assert prepared.format == detected
    assert prepared.extension == extension
    assert (prepared.width, prepared.height) == (120, 80)
    assert prepared.byte_size == len(prepared.data)
    assert b"TRAILING-MARKER" not in prepared.data  # only a re-encoded copy loses it
    stored = reopen(prepared.data)
    assert stored.format == stored_format
    assert stored.size == (120, 80)


def test_format_is_judged_by_content_not_by_name():
    prepared = prepare_one(encode(picture(), "JPEG"), name="looks-like.png")
    assert prepared.format == "jpeg"
    assert reopen(prepared.data).format == "JPEG"


def test_thumbnail_is_a_jpeg_that_fits_320_pixels():
    prepared = prepare_one(encode(picture((1000, 500)), "PNG"))
    thumbnail = reopen(prepared.thumbnail)
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (320, 160)


def test_png_alpha_is_kept_and_the_thumbnail_is_on_white():
    image = Image.new("RGBA", (64, 64), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 32, 64))  # left half fully transparent

    prepared = prepare_one(encode(image, "PNG"))

    stored = reopen(prepared.data)
    assert stored.mode == "RGBA"
    assert stored.getpixel((5, 5))[3] == 0
    assert stored.getpixel((50, 5)) == (255, 0, 0, 255)
    assert all(channel > 245 for channel in reopen(prepared.thumbnail).getpixel((5, 5)))


def test_exif_orientation_is_applied_before_exif_is_dropped():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    prepared = prepare_one(encode(picture((64, 32)), "JPEG", exif=exif), name="phone.jpg")
    assert (prepared.width, prepared.height) == (32, 64)
    assert reopen(prepared.data).size == (32, 64)


# --- refused types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.png", b"this is a text file, not a screenshot\n"),
        ("paper.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("shot.bmp", encode(picture(), "BMP")),
        ("shot.tiff", encode(picture(), "TIFF")),
        ("polyglot.png", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"),
    ],
)
def test_files_that_are_not_png_jpeg_webp_or_gif_are_refused(name, data):
    with pytest.raises(EvidenceRejected) as refused:
        prepare_one(data, name=name)
    assert name in str(refused.value)


def test_bmp_is_refused_as_not_an_accepted_image():
    with pytest.raises(EvidenceRejected, match="is not a PNG, JPEG, WebP or GIF image"):
        prepare_one(encode(picture(), "BMP"), name="shot.png")


def test_rejection_is_a_domain_error_carrying_the_file_name():
    with pytest.raises(DomainError) as refused:
        prepare_one(b"hello", name="notes.png")
    assert refused.value.filename == "notes.png"


def test_empty_file_is_refused():
    with pytest.raises(EvidenceRejected, match="“blank.png” is empty"):
        prepare_one(b"", name="blank.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_refused(fmt):
    whole = encode(noise(), fmt)
    with pytest.raises(EvidenceRejected, match="damaged or incomplete"):
        prepare_one(whole[: len(whole) // 2], name="cut." + fmt.lower())


def test_truncated_files_are_not_accepted_even_if_pillow_is_told_to_pad_them(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        prepare_one(encode(picture(), "PNG"))


# --- pixels and frames -----------------------------------------------------------------------------


def test_png_declaring_a_huge_size_is_refused_before_decoding(no_decoding):
    bomb = png(100_000, 100_000, zlib.compress(b"\x00" * 100_001))
    with pytest.raises(EvidenceRejected, match="“huge.png” has too many pixels; the limit is 40 megapixels"):
        prepare_one(bomb, name="huge.png")


def test_small_png_that_decompresses_to_64_megapixels_is_refused_before_decoding(no_decoding):
    rows = b"".join(b"\x00" + bytes(1000) for _ in range(8000))  # 8000 x 8000, 1 bit per pixel
    bomb = png(8000, 8000, zlib.compress(rows, 9), bit_depth=1)
    assert len(bomb) < 100_000

    with pytest.raises(EvidenceRejected, match="too many pixels"):
        prepare_one(bomb, name="bomb.png")


def test_pixel_limit_comes_from_the_limits():
    data = encode(picture((100, 100)), "PNG")
    with pytest.raises(EvidenceRejected, match="too many pixels"):
        prepare_one(data, limits=EvidenceLimits(max_pixels=9_999))
    assert prepare_one(data, limits=EvidenceLimits(max_pixels=10_000)).width == 100


@pytest.mark.parametrize("side", [10_000, 100_000])  # past Pillow's warning / its error threshold
def test_pillow_decompression_bomb_checks_become_refusals(side):
    bomb = png(side, side, zlib.compress(b"\x00" * (side + 1)))
    with pytest.raises(EvidenceRejected, match="too many pixels"):
        prepare_one(bomb, name="bomb.png", limits=EvidenceLimits(max_pixels=10**12))


def test_creating_the_app_makes_decompression_bomb_warnings_errors_and_importing_does_not():
    # A fresh interpreter: pytest's own warning filters would hide what create_app does.
    script = (
        "import warnings\n"
        "from PIL import Image, PngImagePlugin\n"
        "import moderation_app.services.evidence.storage\n"
        "def bomb():\n"
        "    try:\n"
        "        warnings.warn('bomb', Image.DecompressionBombWarning)\n"
        "    except Image.DecompressionBombWarning:\n"
        "        return 'raised'\n"
        "    return 'warned'\n"
        "before = (bomb(), PngImagePlugin.MAX_TEXT_CHUNK)\n"
        "from moderation_app import create_app\n"
        "create_app({'TESTING': True})\n"
        "print(before, (bomb(), PngImagePlugin.MAX_TEXT_CHUNK))\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", script],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "('warned', 1048576) ('raised', 262144)"


def test_preparing_an_image_refuses_to_run_before_pillow_is_configured(monkeypatch):
    monkeypatch.setattr(PngImagePlugin, "MAX_TEXT_CHUNK", 1024 * 1024)
    with pytest.raises(RuntimeError, match="configure_pillow"):
        prepare_one(encode(picture(), "PNG"))


def test_pixel_limit_never_exceeds_pillows_even_if_its_warning_is_ignored(no_decoding):
    bomb = png(10_000, 10_000, zlib.compress(b"\x00" * 10_001))  # past Pillow's warning only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(EvidenceRejected, match="too many pixels"):
            prepare_one(bomb, name="bomb.png", limits=EvidenceLimits(max_pixels=10**12))


def test_webp_declaring_a_huge_canvas_is_refused_before_pillow_opens_it():
    # VP8X header: flags, reserved, then canvas width-1 and height-1 as 24-bit little-endian.
    vp8x = b"\x00\x00\x00\x00" + (9999).to_bytes(3, "little") + (9999).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    data = b"RIFF" + struct.pack("<I", len(body)) + body
    with pytest.raises(EvidenceRejected, match="too many pixels"):
        prepare_one(data, name="huge.webp")


def test_image_too_small_to_be_a_screenshot_is_refused():
    with pytest.raises(EvidenceRejected, match="too small to be a screenshot"):
        prepare_one(encode(picture((120, 8)), "PNG"), name="strip.png")


def animated_gif(colours: list[str]) -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in colours]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def test_animated_gif_keeps_only_its_first_frame_as_png():
    data = animated_gif(["red", "lime", "blue"])
    assert Image.open(io.BytesIO(data)).n_frames == 3

    prepared = prepare_one(data, name="anim.gif")

    assert prepared.format == "gif"
    stored = reopen(prepared.data)
    assert stored.format == "PNG"
    assert getattr(stored, "n_frames", 1) == 1
    assert stored.getcolors() == [(40 * 30, (255, 0, 0))]


def test_gif_frames_are_counted_against_the_limit():
    data = animated_gif(["red", "lime", "blue"])
    with pytest.raises(EvidenceRejected, match="too many animation frames; the limit is 2"):
        prepare_one(data, name="anim.gif", limits=EvidenceLimits(max_frames=2))
    assert prepare_one(data, limits=EvidenceLimits(max_frames=3)).format == "gif"


def test_gif_with_thousands_of_frames_is_refused_without_decoding(no_decoding):
    first = encode(Image.new("P", (32, 32), 1), "GIF")
    assert first.endswith(b";")
    # A 1x1 frame: descriptor, LZW minimum code size 2, one sub-block (clear, index 0, end), terminator.
    tiny_frame = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" + b"\x02\x02\x44\x01\x00"
    data = first[:-1] + tiny_frame * 500_000 + b";"  # 7.5 MB, under the byte limit

    with pytest.raises(EvidenceRejected, match="too many animation frames; the limit is 1000"):
        prepare_one(data, name="frames.gif")


# --- metadata and trailing data are gone -----------------------------------------------------------


def test_jpeg_exif_and_gps_are_not_in_the_stored_file():
    exif = Image.Exif()
    exif[0x010F] = "SpyPhone"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.5), 3: "E", 4: (4.0, 53.0, 0.0), 18: "WGS-84"}
    original = encode(picture(), "JPEG", exif=exif)
    assert b"Exif" in original and b"WGS-84" in original

    prepared = prepare_one(original, name="gps.jpg")

    stored = reopen(prepared.data)
    assert len(stored.getexif()) == 0
    assert stored.getexif().get_ifd(0x8825) == {}
    for marker in (b"Exif", b"GPS", b"WGS-84", b"SpyPhone"):
        assert marker not in prepared.data
        assert marker not in prepared.thumbnail


def test_jpeg_comment_and_icc_profile_are_not_in_the_stored_file():
    original = encode(picture(), "JPEG", comment=b"COMMENT-MARKER", icc_profile=b"ICC-MARKER" * 20)
    assert b"COMMENT-MARKER" in original and b"ICC-MARKER" in original

    prepared = prepare_one(original, name="c.jpg")

    stored = reopen(prepared.data)
    assert "comment" not in stored.info and "icc_profile" not in stored.info
    assert b"COMMENT-MARKER" not in prepared.data and b"ICC-MARKER" not in prepared.data


def test_png_text_chunks_and_icc_profile_are_not_in_the_stored_file():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "TEXT-MARKER")
    info.add_text("Author", "ZTXT-MARKER", zip=True)
    info.add_itxt("Description", "ITXT-MARKER")
    original = encode(picture(), "PNG", pnginfo=info, icc_profile=b"ICC-MARKER" * 20)
    assert reopen(original).info["Comment"] == "TEXT-MARKER"
    assert "icc_profile" in reopen(original).info

    prepared = prepare_one(original)

    stored = reopen(prepared.data)
    assert not {"Comment", "Author", "Description", "icc_profile"} & set(stored.info)
    assert b"tEXt" not in prepared.data and b"zTXt" not in prepared.data and b"iTXt" not in prepared.data
    assert b"TEXT-MARKER" not in prepared.data


@pytest.mark.parametrize(
    ("fmt", "marker"), [("PNG", b"APPENDED-AFTER-IEND"), ("JPEG", b"APPENDED-AFTER-EOI")]
)
def test_bytes_appended_after_the_image_are_not_in_the_stored_file(fmt, marker):
    original = encode(picture(), fmt) + marker + b"<?php system($_GET['c']); ?>"
    prepared = prepare_one(original)
    assert marker not in prepared.data
    assert b"<?php" not in prepared.data


# --- byte and count limits -------------------------------------------------------------------------


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_file_over_the_size_limit_is_refused_after_reading_at_most_limit_plus_one_byte():
    stream = CountingStream(encode(noise(), "PNG"))
    with pytest.raises(EvidenceRejected, match="“big.png” is larger than 1000 bytes"):
        prepare_images([("big.png", stream)], EvidenceLimits(max_file_bytes=1000))
    assert stream.bytes_read == 1001


def test_default_size_limit_message_speaks_megabytes():
    stream = io.BytesIO(b"\x00" * (10 * 1024 * 1024 + 1))
    with pytest.raises(EvidenceRejected, match="is larger than 10 MB"):
        prepare_images([("big.png", stream)])


def test_no_files_is_refused():
    with pytest.raises(EvidenceRejected, match="Attach at least one screenshot"):
        prepare_images([])


def test_too_many_files_are_refused():
    data = encode(picture(), "PNG")
    files = [(f"{i}.png", io.BytesIO(data)) for i in range(3)]
    with pytest.raises(EvidenceRejected, match="Attach at most 2 screenshots at a time"):
        prepare_images(files, EvidenceLimits(max_files=2))
    assert len(prepare_images([(n, io.BytesIO(data)) for n, _ in files], EvidenceLimits(max_files=3))) == 3


def test_files_together_over_the_total_limit_are_refused():
    data = encode(noise(), "PNG")
    limits = EvidenceLimits(max_file_bytes=len(data), max_total_bytes=2 * len(data) - 1)
    with pytest.raises(EvidenceRejected, match="Together the screenshots are larger than"):
        prepare_images([("a.png", io.BytesIO(data)), ("b.png", io.BytesIO(data))], limits)


def test_one_bad_file_refuses_the_whole_request():
    good = encode(picture(), "PNG")
    with pytest.raises(EvidenceRejected, match="“bad.png”"):
        prepare_images([("good.png", io.BytesIO(good)), ("bad.png", io.BytesIO(b"nope"))])


# --- hashes ----------------------------------------------------------------------------------------


def test_sha256_and_byte_size_match_the_stored_file(store):
    prepared = prepare_one(encode(picture(), "PNG"))
    stored = store.save(prepared)
    on_disk = store.path_for(stored.stored_name).read_bytes()
    assert stored.sha256 == prepared.sha256 == hashlib.sha256(on_disk).hexdigest()
    assert stored.byte_size == len(on_disk)
    assert store.path_for(stored.thumbnail_name).read_bytes() == prepared.thumbnail


def test_perceptual_hash_is_16_hex_and_survives_recompression():
    image = picture((400, 300))
    high = prepare_one(encode(image, "JPEG", quality=95))
    low = prepare_one(encode(image, "JPEG", quality=60))
    other = prepare_one(encode(picture((400, 300), seed=2), "JPEG", quality=95))

    assert re.fullmatch(r"[0-9a-f]{16}", high.perceptual_hash)
    assert high.perceptual_hash == low.perceptual_hash
    assert high.perceptual_hash != other.perceptual_hash


# --- display names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("shot.png", "shot.png"),
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\fakepath\\shot.png", "shot.png"),
        ("a\x00b\r\n\t.png", "ab.png"),
        ("\u202egnp.exe", "gnp.exe"),
        ("..", "unnamed"),
        ("  ", "unnamed"),
        ("", "unnamed"),
        (None, "unnamed"),
        ("x" * 300 + ".png", "x" * 255),
    ],
)
def test_display_filename_is_safe_to_show(raw, shown):
    assert display_filename(raw) == shown


# --- storage ---------------------------------------------------------------------------------------


def test_stored_names_are_random_and_unrelated_to_the_uploaded_name(store):
    prepared = prepare_one(encode(picture(), "PNG"), name="../../etc/passwd.png")

    first, second = store.save(prepared), store.save(prepared)

    assert first.original_filename == "passwd.png"
    for stored in (first, second):
        assert re.fullmatch(HEX32.pattern + r"\.png", stored.stored_name)
        assert re.fullmatch(HEX32.pattern + r"\.thumb\.jpg", stored.thumbnail_name)
        assert "passwd" not in stored.stored_name
    assert first.stored_name != second.stored_name
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        [first.stored_name, first.thumbnail_name, second.stored_name, second.thumbnail_name]
    )


def test_jpeg_is_stored_with_a_jpg_name(store):
    stored = store.save(prepare_one(encode(picture(), "JPEG")))
    assert stored.stored_name.endswith(".jpg") and not stored.stored_name.endswith(".thumb.jpg")


def test_stored_image_has_exactly_the_evidence_file_columns(store):
    stored = store.save(prepare_one(encode(picture(), "PNG"), name="a.png"))
    assert set(asdict(stored)) == {
        "original_filename", "stored_name", "thumbnail_name", "format", "width", "height",
        "byte_size", "sha256", "perceptual_hash",
    }  # fmt: skip


def test_store_creates_its_root_private_and_files_0600(tmp_path):
    store = EvidenceStore(tmp_path / "new" / "evidence")
    stored = store.save(prepare_one(encode(picture(), "PNG")))

    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    for name in (stored.stored_name, stored.thumbnail_name):
        assert stat.S_IMODE(os.stat(store.path_for(name)).st_mode) == 0o600


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "../../etc/passwd",
        "/etc/passwd",
        "a" * 32 + ".png/../x",
        "0" * 32 + ".png\n",
        "0" * 32 + ".PNG",
        "0" * 32 + ".svg",
        "shot.png",
        "",
    ],
)
def test_path_for_refuses_names_the_app_did_not_choose(store, name):
    with pytest.raises(ValueError):
        store.path_for(name)


def test_path_for_accepts_the_apps_own_names(store):
    assert store.path_for("0" * 32 + ".thumb.jpg") == store.root / ("0" * 32 + ".thumb.jpg")


def test_delete_removes_a_file_and_ignores_a_missing_one(store):
    stored = store.save(prepare_one(encode(picture(), "PNG")))
    store.delete(stored.stored_name)
    store.delete(stored.stored_name)
    assert not store.path_for(stored.stored_name).exists()


def test_transaction_removes_written_files_when_the_block_raises(store):
    data = encode(picture(), "PNG")
    prepared = prepare_images([("a.png", io.BytesIO(data)), ("b.png", io.BytesIO(data))])

    with pytest.raises(RuntimeError, match="database failed"):
        with store.transaction() as staged:
            written = staged.save_all(prepared)
            assert len(list(store.root.iterdir())) == 4
            assert store.path_for(written[0].stored_name).exists()
            raise RuntimeError("database failed")

    assert list(store.root.iterdir()) == []


def test_transaction_keeps_files_when_the_block_succeeds(store):
    prepared = prepare_one(encode(picture(), "PNG"))
    with store.transaction() as staged:
        stored = staged.save(prepared)
    assert store.path_for(stored.stored_name).exists()
    assert store.path_for(stored.thumbnail_name).exists()
    with pytest.raises(RuntimeError, match="transaction has ended"):
        staged.save(prepared)
