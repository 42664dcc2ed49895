"""A whole upload judged cheapest first: every file's structure, then every file's header and the
request's pixel budget, and only then any decoding; each file is walked and parsed once."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image, ImageFile

from moderation_app.services.evidence import structure as evidence_structure
from moderation_app.services.evidence.storage import (
    EvidenceLimits,
    EvidenceRejected,
    prepare_images,
)
from tests.helpers.images import encode, image_bytes, picture, png, png_chunk


def one_bit_png(side: int) -> bytes:
    """A black square of `side`² pixels at one bit per pixel: a few KB that decode to megabytes."""
    rows = b"".join(b"\x00" + bytes((side + 7) // 8) for _ in range(side))
    return png(side, side, zlib.compress(rows, 9), bit_depth=1)


# 6324² is just under the 40 MP per-file limit: nine of them are what the issue sent.
BIG = one_bit_png(6324)
TINY = png(8, 8)


def uploads(*files: tuple[bytes, str]) -> list[tuple[str, io.BytesIO]]:
    return [(name, io.BytesIO(data)) for data, name in files]


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The format of each file whose pixels Pillow loads, once per file; loading goes ahead."""
    calls: list[str] = []
    seen: list[Image.Image] = []  # kept alive, so no later image can take an id from the past
    real_load = ImageFile.ImageFile.load

    def load(self):
        if not any(image is self for image in seen):  # Pillow calls load() again and again
            seen.append(self)
            calls.append(self.format)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Image.Image]:
    """Every image Pillow opens (header parsed), in order."""
    images: list[Image.Image] = []
    real_open = Image.open

    def open_(*args, **kwargs):
        image = real_open(*args, **kwargs)
        images.append(image)
        return image

    monkeypatch.setattr(Image, "open", open_)
    return images


def test_a_file_refused_last_costs_no_decoding_of_the_big_files_before_it(decoded):
    assert len(BIG) < 10_000

    with pytest.raises(EvidenceRejected, match="“tiny.png” is too small to be a screenshot"):
        prepare_images(uploads((BIG, "big1.png"), (BIG, "big2.png"), (TINY, "tiny.png")))

    assert decoded == []


def test_the_issues_upload_is_refused_by_the_pixel_budget_before_anything_is_decoded(decoded,
                                                                                     opened):
    files = uploads(*[(BIG, f"big{n}.png") for n in range(9)], (TINY, "tiny.png"))

    with pytest.raises(EvidenceRejected, match="Together the screenshots have more than 120 "
                                               "megapixels; attach fewer or smaller ones"):
        prepare_images(files)

    assert decoded == []
    assert len(opened) == 4  # the fourth 40 MP header passes the budget; nothing after it is read
    assert all(image.fp is None for image in opened), "headers read are closed again"


def test_the_pixel_budget_counts_every_file_of_the_request():
    limits = EvidenceLimits(max_total_pixels=2 * 100 * 100)
    square = image_bytes(size=(100, 100))

    assert len(prepare_images(uploads((square, "a.png"), (square, "b.png")), limits)) == 2
    with pytest.raises(EvidenceRejected, match="Together the screenshots have more than 0.02 "
                                               "megapixels"):
        prepare_images(uploads((square, "a.png"), (square, "b.png"), (square, "c.png")), limits)


def test_one_file_over_the_pixel_budget_is_named_with_the_budget_as_its_limit(decoded):
    limits = EvidenceLimits(max_pixels=40_000_000, max_total_pixels=5_000)

    with pytest.raises(EvidenceRejected, match="“big.png” has too many pixels; the limit is "
                                               "0.005 megapixels"):
        prepare_images(uploads((image_bytes(size=(100, 100)), "big.png")), limits)

    assert decoded == []


def test_every_structure_is_walked_before_pillow_reads_any_header(opened):
    flood = png(before_idat=png_chunk(b"prIv", b"") * 1_001)
    limits = EvidenceLimits(max_parts=1_000)

    with pytest.raises(EvidenceRejected, match="“flood.png” is built in an unusual way"):
        prepare_images(uploads((image_bytes(), "good.png"), (flood, "flood.png")), limits)

    assert opened == []


def test_every_header_is_read_before_any_file_is_decoded(decoded):
    with pytest.raises(EvidenceRejected, match="“c.gif” has too many animation frames"):
        prepare_images(uploads((image_bytes("PNG"), "a.png"), (image_bytes("JPEG"), "b.jpg"),
                               (animated_gif(3), "c.gif")), EvidenceLimits(max_frames=2))

    assert decoded == []


def animated_gif(frames: int) -> bytes:
    pictures = [picture((40, 30), seed) for seed in range(frames)]
    return encode(pictures[0], "GIF", save_all=True, append_images=pictures[1:])


def test_each_file_is_walked_once_and_opened_once_except_webp(monkeypatch, opened, decoded):
    walked: list[int] = []
    real_walk = evidence_structure._png_chunk_count

    def walk(data, stop):
        walked.append(len(data))
        return real_walk(data, stop)

    monkeypatch.setattr(evidence_structure, "_png_chunk_count", walk)
    formats = ["PNG", "JPEG", "GIF", "WEBP"]

    prepared = prepare_images(uploads(*[(image_bytes(fmt), f"shot.{fmt.lower()}")
                                        for fmt in formats]))

    assert [item.format for item in prepared] == ["png", "jpeg", "gif", "webp"]
    assert len(walked) == 1  # the one PNG's chunks
    # libwebp allocates a WebP's canvas when it is opened, so a WebP is not held open between the
    # phases: opened to check its header, and again to decode it.
    assert [image.format for image in opened] == ["PNG", "JPEG", "GIF", "WEBP", "WEBP"]
    assert decoded == ["PNG", "JPEG", "GIF", "WEBP"]
    assert all(image.fp is None for image in opened)


def test_a_file_that_fails_to_decode_still_closes_the_headers_of_the_others(opened):
    whole = image_bytes("PNG", size=(300, 300))
    cut = png(300, 300, zlib.compress(bytes(301 * 300))[:40])  # its header is fine, its pixels not

    with pytest.raises(EvidenceRejected, match="“cut.png” is damaged or incomplete"):
        prepare_images(uploads((cut, "cut.png"), (whole, "whole.png")))

    assert len(opened) == 2
    assert all(image.fp is None for image in opened)
