"""Large uploads take the short cuts of ``images.decode_image`` (one decode, thumbnail and perceptual
hash from one reduction, no full-size copies) and still give what the full picture gave."""

from __future__ import annotations

import io
import random

import imagehash
import pytest
from PIL import Image, ImageDraw, ImageOps

from moderation_app.models.evidence import hamming_distance
from moderation_app.services.evidence.images import (
    DEFAULT_LIMITS,
    JPEG_QUALITY,
    THUMBNAIL_BOX,
    THUMBNAIL_QUALITY,
    PreparedImage,
    prepare_image,
)
from moderation_app.services.queue.signals import NEAR_DUPLICATE_DISTANCE
from tests.helpers.images import encode, picture


def photo(size: tuple[int, int] = (4000, 3000), seed: int = 1) -> Image.Image:
    """Photo-like: a smooth colour field, some shapes, per-pixel noise (not flat colour)."""
    rng = random.Random(seed)
    field = Image.frombytes("RGB", (8, 6), rng.randbytes(8 * 6 * 3))
    image = field.resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(50, size[1] // 4)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    grain = Image.frombytes("L", size, rng.randbytes(size[0] * size[1])).convert("RGB")
    return Image.blend(image, grain, 0.1)


def prepare(data: bytes) -> PreparedImage:
    return prepare_image("upload", data, DEFAULT_LIMITS)


def thumbnail_of(image: Image.Image) -> bytes:
    """The thumbnail as Pillow makes it from the full picture."""
    image = image.copy()
    image.thumbnail(THUMBNAIL_BOX, Image.Resampling.LANCZOS)
    return encode(image, "JPEG", quality=THUMBNAIL_QUALITY)


@pytest.fixture(scope="module")
def twelve_megapixels() -> Image.Image:
    return photo()


def test_a_12_mp_photo_and_its_resaved_copies_hash_as_near_duplicates(twelve_megapixels):
    original = prepare(encode(twelve_megapixels, "JPEG", quality=92))
    smaller = prepare(encode(twelve_megapixels.resize((2000, 1500), Image.Resampling.LANCZOS),
                             "JPEG", quality=75))
    lower_quality = prepare(encode(twelve_megapixels, "JPEG", quality=60))
    other = prepare(encode(photo(seed=2), "JPEG", quality=92))

    def distance(copy: PreparedImage) -> int:
        return hamming_distance(original.perceptual_hash, copy.perceptual_hash)

    assert distance(smaller) <= NEAR_DUPLICATE_DISTANCE
    assert distance(lower_quality) <= NEAR_DUPLICATE_DISTANCE
    assert distance(other) > NEAR_DUPLICATE_DISTANCE


def test_the_perceptual_hash_of_a_large_picture_stays_near_the_full_pictures(twelve_megapixels):
    for data in (encode(twelve_megapixels, "JPEG", quality=92),
                 encode(picture((1920, 1080), seed=4), "PNG")):
        full = imagehash.phash(Image.open(io.BytesIO(data)).convert("RGB"))
        # Hashes stored before the reduction was introduced still match new uploads.
        assert hamming_distance(prepare(data).perceptual_hash, str(full)) <= NEAR_DUPLICATE_DISTANCE


def test_a_picture_under_1280_pixels_hashes_exactly_as_the_full_picture():
    image = picture((1279, 900), seed=6)
    assert prepare(encode(image, "PNG")).perceptual_hash == str(imagehash.phash(image))


def test_the_thumbnail_of_a_large_png_is_pillows_thumbnail_of_the_full_picture():
    image = picture((1920, 1080), seed=5)
    assert prepare(encode(image, "PNG")).thumbnail == thumbnail_of(image)


def test_the_thumbnail_of_a_large_transparent_png_is_on_white_as_before():
    image = picture((1920, 1080), seed=5).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 960, 1080))
    on_white = Image.new("RGB", image.size, "white")
    on_white.paste(image, mask=image.getchannel("A"))

    prepared = prepare(encode(image, "PNG"))

    assert prepared.thumbnail == thumbnail_of(on_white)
    assert prepared.perceptual_hash == prepare(encode(on_white, "PNG")).perceptual_hash


def test_the_thumbnail_of_a_large_rotated_jpeg_is_of_the_upright_picture(twelve_megapixels):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(twelve_megapixels, "JPEG", quality=JPEG_QUALITY, exif=exif)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))

    prepared = prepare(data)

    assert (prepared.width, prepared.height) == (3000, 4000)
    assert prepared.thumbnail == thumbnail_of(upright)


def test_a_stored_png_has_exactly_the_uploaded_pixels():
    image = picture((1920, 1080), seed=7)
    stored = Image.open(io.BytesIO(prepare(encode(image, "PNG")).data))
    assert stored.tobytes() == image.tobytes()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_each_upload_is_decoded_once(monkeypatch, fmt):
    decoders = []
    real = Image._getdecoder

    def counting(*args, **kwargs):
        decoders.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(Image, "_getdecoder", counting)
    data = encode(picture((1920, 1080), seed=8), fmt)

    prepare(data)

    assert len(decoders) == 1
