"""An upload's byte structure walked without Pillow: checks that need no decoding.

Chunks, markers, segments and blocks are stepped over by their length fields in pure Python, and
GIF frames and a WebP's declared canvas read from the bytes. Floods of these parts, or bogus JPEG
scans, cost Pillow and libjpeg seconds to minutes; counting them here is cheap, and it runs before
any file of a request is opened or decoded, so a hostile request costs little to refuse.
"""

from __future__ import annotations

import re

from moderation_app.services.evidence.limits import EvidenceLimits, EvidenceRejected


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


def declared_webp_size(data: bytes) -> tuple[int, int] | None:
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
