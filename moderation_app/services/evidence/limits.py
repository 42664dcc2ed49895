"""What an evidence upload may be, and the error that refuses one.

Its own module because both the structure walk (``structure``) and the Pillow checks (``images``)
raise ``EvidenceRejected`` against ``EvidenceLimits``. The rest of the app imports these names from
``images`` or ``storage``.
"""

from __future__ import annotations

from dataclasses import dataclass

from moderation_app.services.errors import DomainError

MB = 1024 * 1024


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
