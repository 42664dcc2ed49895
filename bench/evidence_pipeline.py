"""Benchmark: the evidence pipeline against Pillow's bare decode + re-encode + thumbnail.

    .venv/bin/python bench/evidence_pipeline.py [--runs 11]

Builds two files from fixed seeds, in memory: a 1920×1080 PNG screenshot (a marketplace page:
header, sidebar, rows of text, buttons, a few product photos) and a 12 MP JPEG (4000×3000,
smooth shapes under sensor-like noise, quality 92, with EXIF as a camera writes it). For each it
times, alternately so that both see the same load on the machine:

- app: ``images.prepare_image`` — structure walk, header checks, decode, re-encode, thumbnail,
  SHA-256 and perceptual hash, with the limits the app runs with (``DEFAULT_LIMITS``, which the
  ``EVIDENCE_*`` settings default to);
- Pillow: ``Image.open`` + ``load()`` + ``save()`` in the format and quality the app stores (JPEG
  quality 90, or PNG at Pillow's default level) + ``thumbnail()`` to the app's box with Pillow's
  defaults + the thumbnail saved as the app saves it (JPEG quality 80).

and prints the medians of the runs, wall-clock and CPU time (steadier when other work shares the
machine), in ms and app / Pillow.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation_app.services.evidence import images  # noqa: E402


def screenshot_png(seed: int = 14) -> bytes:
    """A 1920×1080 page as a browser shows it: flat UI colours, anti-aliased text, some photos."""
    rng = random.Random(seed)
    width, height = 1920, 1080
    page = Image.new("RGB", (width, height), (246, 247, 249))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width, 64), fill=(35, 47, 62))
    draw.text((24, 22), "Marketplace - Seller centre", fill=(255, 255, 255), font_size=20)
    draw.rectangle((0, 64, 260, height), fill=(255, 255, 255))
    for row in range(14):
        draw.text((24, 90 + row * 40), f"Menu item {row + 1}", fill=(60, 64, 72), font_size=15)
    words = [rng.choice(["order", "refund", "seller", "item", "review", "delivery", "stars",
                         "fast", "late", "never", "arrived", "great", "broken", "message"])
             for _ in range(4000)]
    y = 90
    for _ in range(5):
        top = y
        draw.rounded_rectangle((290, top, width - 40, top + 180), radius=8, fill=(255, 255, 255),
                               outline=(222, 225, 230))
        photo = Image.frombytes("RGB", (140, 140), rng.randbytes(140 * 140 * 3))
        photo = Image.blend(photo, Image.new("RGB", photo.size, tuple(
            rng.randrange(60, 220) for _ in range(3))), 0.6)
        page.paste(photo.filter(ImageFilter.GaussianBlur(2)), (310, top + 20))
        for line in range(6):
            start = rng.randrange(len(words) - 20)
            draw.text((470, top + 24 + line * 24), " ".join(words[start : start + 18]),
                      fill=(33, 37, 41) if line else (13, 110, 253), font_size=16)
        draw.rounded_rectangle((width - 220, top + 130, width - 60, top + 165), radius=6,
                               fill=(220, 53, 69))
        draw.text((width - 200, top + 138), "Report review", fill=(255, 255, 255), font_size=15)
        y += 196
    return _encode(page, "PNG")


def photo_jpeg(seed: int = 14) -> bytes:
    """A 4000×3000 camera-like JPEG: gradients, texture and shapes under per-pixel noise."""
    rng = np.random.default_rng(seed)
    width, height = 4000, 3000
    # Low-frequency content: a coarse random field blown up smoothly, plus a few sharp shapes.
    coarse = Image.fromarray(rng.integers(30, 225, (12, 16, 3), dtype=np.uint8), "RGB")
    texture = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), "RGB")
    scene = Image.blend(coarse.resize((width, height), Image.Resampling.BICUBIC),
                        texture.resize((width, height), Image.Resampling.BICUBIC), 0.25)
    draw = ImageDraw.Draw(scene)
    for _ in range(40):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(40, 500))
        draw.ellipse((x - r, y - r, x + r, y + r),
                     fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    scene = scene.filter(ImageFilter.GaussianBlur(3))
    pixels = np.asarray(scene, dtype=np.int16)
    pixels = pixels + rng.normal(0, 6, pixels.shape).astype(np.int16)
    scene = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Bench", "Camera 12", 1  # make, model, orientation
    return _encode(scene, "JPEG", quality=92, exif=exif)


def pillow_baseline(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.format == "JPEG":
            _encode(image, "JPEG", quality=images.JPEG_QUALITY)
        else:
            _encode(image, "PNG")
        image.thumbnail(images.THUMBNAIL_BOX)
        _encode(image, "JPEG", quality=images.THUMBNAIL_QUALITY)


def app_pipeline(data: bytes) -> None:
    images.prepare_image("bench", data, images.DEFAULT_LIMITS)


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _time(function: Callable[[bytes], None], data: bytes) -> tuple[float, float]:
    """(wall, CPU) ms of one run; CPU time is steadier on a machine shared with other work."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(data)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="timed runs of each (median shown)")
    args = parser.parse_args()
    images.configure_pillow()
    files = {"PNG screenshot 1920×1080": screenshot_png(), "JPEG photo 4000×3000": photo_jpeg()}
    print("| file | size | stored | app ms | Pillow ms | app / Pillow | app CPU ms | Pillow CPU ms "
          "| app / Pillow (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, data in files.items():
        app_pipeline(data), pillow_baseline(data)  # warm-up: imports, caches
        app_runs, pillow_runs = [], []
        for _ in range(args.runs):
            app_runs.append(_time(app_pipeline, data))
            pillow_runs.append(_time(pillow_baseline, data))
        app, pillow = ([statistics.median(run[i] for run in runs) for i in (0, 1)]
                       for runs in (app_runs, pillow_runs))
        stored = images.prepare_image("bench", data).byte_size
        print(f"| {label} | {len(data) / 1e6:.2f} MB | {stored / 1e6:.2f} MB | {app[0]:.0f} | "
              f"{pillow[0]:.0f} | {app[0] / pillow[0]:.2f} | {app[1]:.0f} | {pillow[1]:.0f} | "
              f"{app[1] / pillow[1]:.2f} |")

if __name__ == "__main__":
    main()
