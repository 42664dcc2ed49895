"""What a refused upload costs, through HTTP: the issue's upload (nine big 1-bit PNGs, then one too
small) is refused before anything is decoded; the files of a refused upload count against the
seller's daily quota as if stored, and once it is spent an upload is refused before its files are
read; every refusal is a security event; a large body from someone who may not upload is refused
before it is read."""

from __future__ import annotations

import io
import json
import logging
import secrets
import time
import zlib
from collections.abc import Callable

import limits.storage.memory
import pytest
from PIL import ImageFile

from moderation_app.extensions import db
from moderation_app.seller import uploads as seller_uploads
from tests.helpers.clients import page_text
from tests.helpers.images import image_bytes, noisy_png, png
from tests.helpers.marketplace import add_review
from tests.helpers.requests import answer, ask_for_information, file_request, submit
from tests.helpers.stored import nothing_stored, row_counts, stored_files

SECURITY_LOGGER = "moderation_app.security"
MB = 1024 * 1024


def one_bit_png(side: int) -> bytes:
    rows = b"".join(b"\x00" + bytes((side + 7) // 8) for _ in range(side))
    return png(side, side, zlib.compress(rows, 9), bit_depth=1)


BIG = one_bit_png(6324)  # 40 MP in about 5 KB
TINY = png(8, 8)
NOT_AN_IMAGE = b"This is no screenshot."


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every pixel load Pillow does (and lets it happen)."""
    calls: list[str] = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        calls.append(self.format)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


@pytest.fixture
def files_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of files of each upload that reached the image pipeline."""
    calls: list[int] = []
    real_prepare = seller_uploads.prepare_images

    def prepare(files, limits, **options):
        calls.append(len(files))
        return real_prepare(files, limits, **options)

    monkeypatch.setattr(seller_uploads, "prepare_images", prepare)
    return calls


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    return caplog


def refusal_events(caplog: pytest.LogCaptureFixture) -> list[dict]:
    events = [json.loads(record.getMessage().removeprefix("security "))
              for record in caplog.records if record.name == SECURITY_LOGGER]
    return [event for event in events if event["event"] == "upload_refused"]


# --- the upload ----------------------------------------------------------------------------

def test_nine_big_pngs_and_a_tiny_one_are_refused_without_decoding_any(app, seller, seller_client,
                                                                       decoded):
    files = [(BIG, f"big{n}.png") for n in range(9)] + [(TINY, "tiny.png")]

    response = submit(seller_client, add_review(app, seller), files=files)

    assert response.status_code == 422
    assert "Together the screenshots have more than 120 megapixels" in page_text(response)
    assert decoded == []
    assert nothing_stored(app)


def test_big_pngs_before_a_tiny_one_within_the_budget_are_not_decoded_either(app, seller,
                                                                             seller_client,
                                                                             decoded):
    files = [(BIG, "big1.png"), (BIG, "big2.png"), (TINY, "tiny.png")]

    response = submit(seller_client, add_review(app, seller), files=files)

    assert response.status_code == 422
    assert "“tiny.png” is too small to be a screenshot" in page_text(response)
    assert decoded == []
    assert nothing_stored(app)


def test_the_pixel_budget_comes_from_the_settings(app, seller, seller_client):
    app.config["EVIDENCE_MAX_TOTAL_PIXELS"] = 2 * 160 * 100
    review_id = add_review(app, seller)
    three = [(image_bytes(seed=n), f"{n}.png") for n in range(3)]  # 160 x 100 each

    refused = submit(seller_client, review_id, files=three)

    assert refused.status_code == 422
    assert "Together the screenshots have more than 0.032 megapixels" in page_text(refused)
    assert submit(seller_client, review_id, files=three[:2]).status_code == 303


# --- refused files count against the daily quota -------------------------------------------------

def test_a_refused_upload_counts_against_the_daily_quota_as_if_stored(app, seller, seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 4
    review_id = add_review(app, seller)
    bad = [(image_bytes(seed=1), "good.png"), (NOT_AN_IMAGE, "bad.png")]

    assert submit(seller_client, review_id, files=bad).status_code == 422
    response = submit(seller_client, review_id,
                      files=[(image_bytes(seed=n), f"{n}.png") for n in range(3)])

    assert response.status_code == 422
    assert ("You can upload at most 4 screenshots in 24 hours, counting files that could not be "
            "accepted; you have 2 left.") in page_text(response)
    assert nothing_stored(app)
    file_request(seller_client, review_id,
                 files=[(image_bytes(seed=n), f"{n}.png") for n in range(2)])
    assert row_counts(app)["evidence"] == 2


def test_once_refusals_spend_the_quota_an_upload_is_refused_before_its_files_are_read(
        app, seller, seller_client, files_read, decoded):
    app.config["EVIDENCE_DAILY_QUOTA"] = 3
    review_id = add_review(app, seller)
    for _ in range(3):
        submit(seller_client, review_id, files=[(NOT_AN_IMAGE, "bad.png")])
    assert files_read == [1, 1, 1]

    response = submit(seller_client, review_id, files=[(image_bytes(), "good.png")])

    assert response.status_code == 422
    assert "you have 0 left. Try again later." in page_text(response)
    assert files_read == [1, 1, 1], "the files of the upload were never read"
    assert decoded == []
    assert nothing_stored(app)


def test_a_refused_answer_counts_and_an_answer_without_files_is_never_held_back(
        app, seller, agent, seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 2
    request_id = file_request(seller_client, add_review(app, seller))  # 1 of 2 stored
    ask_for_information(app, request_id, agent)

    refused = answer(seller_client, request_id, "Here", files=[(NOT_AN_IMAGE, "chat.png")])
    spent = answer(seller_client, request_id, "Here", files=[(image_bytes(seed=5), "chat.png")])
    words_only = answer(seller_client, request_id, "The chat is gone, but the order number is 4471.")

    assert (refused.status_code, spent.status_code, words_only.status_code) == (422, 422, 303)
    assert "you have 0 left" in page_text(spent)
    assert row_counts(app)["evidence"] == 1


def test_refused_files_stop_counting_after_24_hours(app, seller, seller_client, monkeypatch):
    app.config["EVIDENCE_DAILY_QUOTA"] = 1
    review_id = add_review(app, seller)
    submit(seller_client, review_id, files=[(NOT_AN_IMAGE, "bad.png")])
    assert submit(seller_client, review_id).status_code == 422

    class Tomorrow:  # the clock of the `limits` memory storage, a day and a second later
        @staticmethod
        def time() -> float:
            return time.time() + 24 * 3600 + 1

    monkeypatch.setattr(limits.storage.memory, "time", Tomorrow)

    file_request(seller_client, review_id)
    assert row_counts(app)["evidence"] == 1


def test_more_files_than_allowed_are_refused_unread_and_cost_nothing(app, seller, seller_client):
    app.config.update(EVIDENCE_MAX_FILES=2, EVIDENCE_DAILY_QUOTA=3)
    review_id = add_review(app, seller)
    three = [(image_bytes(seed=n), f"{n}.png") for n in range(3)]

    assert submit(seller_client, review_id, files=three).status_code == 422

    file_request(seller_client, review_id, files=three[:2])
    assert row_counts(app)["evidence"] == 2


def test_refused_files_count_against_their_own_seller_only(app, seller, seller_client, other_seller,
                                                           other_seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 1
    submit(other_seller_client, add_review(app, other_seller), files=[(NOT_AN_IMAGE, "x.png")])

    file_request(seller_client, add_review(app, seller))

    assert row_counts(app)["evidence"] == 1


# --- the security log ------------------------------------------------------------------------------

def test_every_refused_upload_is_a_security_event_naming_the_seller_and_the_reason(
        app, seller, agent, seller_client, security_log):
    app.config["EVIDENCE_DAILY_QUOTA"] = 2
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    security_log.clear()

    submit(seller_client, add_review(app, seller), files=[(NOT_AN_IMAGE, "evil.png")])
    answer(seller_client, request_id, "Here", files=[(image_bytes(seed=3), "chat.png")])

    first, second = refusal_events(security_log)
    assert (first["seller_id"], first["user_id"], first["role"]) == (seller.id, seller.id, "seller")
    assert first["reason"] == "“evil.png” is not a PNG, JPEG, WebP or GIF image."
    assert first["refused_files_24h"] == 1
    assert first["path"].endswith("/deletion-request") and first["method"] == "POST"
    assert second["path"] == f"/seller/requests/{request_id}/evidence"
    assert second["reason"].startswith("You can upload at most 2 screenshots in 24 hours")
    assert NOT_AN_IMAGE.decode() not in security_log.text


# --- large bodies from those who may not upload --------------------------------------------------

class LargeBody(io.RawIOBase):
    """A multipart body of `size` bytes, made as it is read, that counts what the app reads.
    (Seekable only because the test client measures its length that way.)"""

    def __init__(self, size: int, boundary: str, on_read: Callable[[], None] = lambda: None) -> None:
        self.head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"; "
                     f"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
        # Well-formed to the end: Werkzeug leaves a half-parsed file part open.
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = size
        self.position = 0
        self.bytes_read = 0
        self.on_read = on_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:
        self.on_read()
        start, end = self.position, min(self.position + len(buffer), self.size)
        chunk = bytearray(max(end - start, 0))  # zeros, but for the head and the tail
        for piece, offset in ((self.head, 0), (self.tail, self.size - len(self.tail))):
            low, high = max(start, offset), min(end, offset + len(piece))
            if low < high:
                chunk[low - start:high - start] = piece[low - offset:high - offset]
        buffer[:len(chunk)] = chunk
        self.position += len(chunk)
        self.bytes_read += len(chunk)
        return len(chunk)


def post_large_body(client, url: str, size: int = 40 * MB, on_read: Callable[[], None] = lambda: None):
    boundary = secrets.token_hex(16)
    body = LargeBody(size, boundary, on_read)
    response = client.post(url, input_stream=body, content_length=size,
                           content_type=f"multipart/form-data; boundary={boundary}")
    return response, body


@pytest.mark.parametrize("who", ["anonymous", "agent", "manager"])
@pytest.mark.parametrize("view", ["new request", "answer"])
def test_a_large_body_from_someone_who_cannot_upload_is_refused_before_it_is_read(
        request, app, seller, seller_client, who, view):
    request_id = file_request(seller_client, add_review(app, seller))
    url = {"new request": f"/seller/reviews/{add_review(app, seller)}/deletion-request",
           "answer": f"/seller/requests/{request_id}/evidence"}[view]
    client = app.test_client() if who == "anonymous" else request.getfixturevalue(f"{who}_client")
    counts, files = row_counts(app), stored_files(app)

    response, body = post_large_body(client, url)

    assert response.status_code == 413
    assert "Too large" in page_text(response)
    assert body.bytes_read == 0
    assert row_counts(app) == counts and stored_files(app) == files


def test_a_seller_may_send_a_body_past_the_form_cap_to_an_upload_view(app, seller, seller_client):
    screenshot = noisy_png((320, 320))
    assert len(screenshot) > app.config["MAX_FORM_MEMORY_SIZE"]

    file_request(seller_client, add_review(app, seller), files=[(screenshot, "chat.png")])

    assert row_counts(app)["evidence"] == 1


def test_a_sellers_large_body_is_read_where_an_anonymous_one_is_not(app, seller, seller_client):
    url = f"/seller/reviews/{add_review(app, seller)}/deletion-request"

    _, anonymous = post_large_body(app.test_client(), url, size=MB)
    _, sellers = post_large_body(seller_client, url, size=MB)

    assert (anonymous.bytes_read, sellers.bytes_read) == (0, MB)
    assert nothing_stored(app)


def test_a_sellers_body_is_read_while_no_database_transaction_is_open(app, seller, seller_client):
    # Deciding how much the seller may send looks the user up before the body is read; on SQLite a
    # POST's transaction holds the write lock, which must not wait on a slow client's upload.
    url = f"/seller/reviews/{add_review(app, seller)}/deletion-request"
    open_while_reading: list[bool] = []

    _, body = post_large_body(seller_client, url, size=MB,
                              on_read=lambda: open_while_reading.append(db.session().in_transaction()))

    assert body.bytes_read == MB
    assert open_while_reading and not any(open_while_reading)
