"""Benchmark: what a seller waits for when filing large photos, decoded at once or held for a job.

    .venv/bin/python bench/held_uploads.py [--files 10] [--runs 5]

Builds `--files` different 12 MP JPEG photos (bench/evidence_pipeline.py's photo, other seeds;
10 × 12 MP is the per-upload pixel budget) and times, alternately, the request's share of the
work on them (services/evidence/storage.py) with the limits the app runs with:

- at once (no REDIS_URL, or under EVIDENCE_BACKGROUND_PIXELS): ``prepare_images`` checks, decodes
  and re-encodes every file, then the images and thumbnails are written to a local store;
- held (REDIS_URL and at least EVIDENCE_BACKGROUND_PIXELS): ``prepare_images(...,
  hold_from_pixels=0)`` runs the same checks short of decoding, then the bytes are written as
  received; a job later does the rest (``processing.process_upload``, timed too, per file).

Prints medians of wall-clock and CPU time. The database work (the same few rows either way) is
left out.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.evidence_pipeline import photo_jpeg  # noqa: E402
from moderation_app.services.evidence.images import (  # noqa: E402
    DEFAULT_LIMITS,
    configure_pillow,
    prepare_image,
)
from moderation_app.services.evidence.storage import EvidenceStore, prepare_images  # noqa: E402


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    configure_pillow()
    photos = [photo_jpeg(seed=20 + number) for number in range(arguments.files)]
    megabytes = sum(map(len, photos)) / 1024 / 1024
    print(f"{arguments.files} photos, 4000×3000 JPEG, {megabytes:.1f} MB in all; "
          f"{arguments.runs} runs each, alternating")

    def uploads():
        return [(f"photo-{number}.jpg", io.BytesIO(data)) for number, data in enumerate(photos)]

    with tempfile.TemporaryDirectory() as folder:
        store = EvidenceStore(Path(folder) / "uploads")

        def at_once() -> None:
            with store.transaction() as staged:
                staged.save_all(prepare_images(uploads(), DEFAULT_LIMITS))
                staged.discard()  # the next run writes as much again, not more

        def held() -> None:
            with store.transaction() as staged:
                for upload in prepare_images(uploads(), DEFAULT_LIMITS, hold_from_pixels=0):
                    staged.hold(upload)
                staged.discard()

        results: dict[str, list[tuple[float, float]]] = {"at once": [], "held": []}
        for _ in range(arguments.runs):
            results["at once"].append(_timed(at_once))
            results["held"].append(_timed(held))
        job = [_timed(lambda data=data: prepare_image("photo.jpg", data)) for data in photos]

    for label, runs in results.items():
        print(f"{label:>8}: wall {statistics.median(w for w, _ in runs) * 1000:7.0f} ms, "
              f"CPU {statistics.median(c for _, c in runs) * 1000:7.0f} ms")
    print(f"     job: wall {statistics.median(w for w, _ in job) * 1000:7.0f} ms, "
          f"CPU {statistics.median(c for _, c in job) * 1000:7.0f} ms per file (decode, re-encode, "
          "thumbnail, hashes; the store write and commit not included)")


if __name__ == "__main__":
    main()
