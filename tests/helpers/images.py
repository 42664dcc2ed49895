"""Real images made with Pillow, and PNG bytes built by hand for headers Pillow would not write."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw


def picture(size: tuple[int, int] = (160, 100), seed: int = 1) -> Image.Image:
    """A little screenshot-like picture with structure, so perceptual hashes differ by seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (245, 245, 245))
    draw = ImageDraw.Draw(image)
    for _ in range(10):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle((x0, y0, x0 + rng.randrange(10, 60), y0 + rng.randrange(5, 30)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def noise(size: tuple[int, int] = (64, 64), seed: int = 7) -> Image.Image:
    """Incompressible pixels, so files are big enough to cut in half or to exceed a byte limit."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (160, 100), seed: int = 1) -> bytes:
    return encode(picture(size, seed), fmt)


def noisy_png(size: tuple[int, int] = (96, 96), seed: int = 3) -> bytes:
    """A PNG of incompressible pixels: big enough to cut in half or to exceed a small byte limit."""
    return encode(noise(size, seed), "PNG")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 64, height: int = 64, idat: bytes | None = None, *, bit_depth: int = 8,
        before_idat: bytes = b"", after_idat: bytes = b"") -> bytes:
    """A greyscale PNG whose header says width x height, with correct CRCs; black by default."""
    if idat is None:
        idat = zlib.compress(bytes((width * bit_depth // 8 + 1) * height))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + before_idat
            + png_chunk(b"IDAT", idat) + after_idat + png_chunk(b"IEND", b""))


def screenshot_and_near_copy(seed: int = 2) -> tuple[bytes, bytes]:
    """A 640×400 screenshot and a copy with a small red mark: other bytes (so not "the same file"),
    perceptual hashes 2 bits apart (a near-identical match for the context signals)."""
    original = picture((640, 400), seed)
    marked = original.copy()
    ImageDraw.Draw(marked).rectangle((620, 380, 626, 386), fill=(200, 30, 30))
    return encode(original, "PNG"), encode(marked, "PNG")
