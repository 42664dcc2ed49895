"""Evidence through HTTP: what an upload stores, refusals of bad files, all-or-nothing storage when
something fails after files were written, the daily quota, and who may fetch a file and how it is
served. The image pipeline itself is tested without HTTP in
tests/services/evidence/test_images.py."""

from __future__ import annotations

import errno
import hashlib
import io
import re
import threading
from datetime import timedelta

import pytest
from flask import Flask
from flask_sqlalchemy.session import Session
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from moderation_app.database import utcnow
from moderation_app.extensions import db
from moderation_app.models import Evidence, RequestStatus, User
from moderation_app.seller import uploads as seller_uploads
from moderation_app.transactions import in_writing
from tests.helpers.clients import FormClient, page_text, page_without_csrf_tokens, signed_in
from tests.helpers.images import image_bytes, noisy_png
from tests.helpers.marketplace import add_review
from tests.helpers.requests import answer, ask_for_information, file_request, submit
from tests.helpers.stored import (
    backend_class,
    evidence_rows,
    fail_opening,
    nothing_stored,
    remove_stored,
    request_state,
    row_counts,
    stored_bytes,
    stored_files,
)
from tests.helpers.s3 import local_storage_only

STORED_NAME = re.compile(r"[0-9a-f]{32}\.(png|jpg)")
HEX16 = re.compile(r"[0-9a-f]{16}")


def fetch(client: FormClient, url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a (possibly streamed) response, which is closed afterwards."""
    response = client.get(url)
    try:
        return response.status_code, dict(response.headers), response.get_data()
    finally:
        response.close()


# --- what an upload stores -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt, name, detected, mimetype", [
    ("PNG", "chat.png", "png", "image/png"),
    ("JPEG", "chat.jpg", "jpeg", "image/jpeg"),
    ("WEBP", "chat.webp", "webp", "image/png"),
    ("GIF", "chat.gif", "gif", "image/png"),
])
def test_accepted_image_is_stored_under_our_name_with_its_facts_and_served_back(
        app, seller, seller_client, fmt, name, detected, mimetype):
    file_request(seller_client, add_review(app, seller),
                 files=[(image_bytes(fmt, size=(200, 120), seed=3), name)])

    [item] = evidence_rows(app)
    content = stored_bytes(app, item.stored_name)
    assert item.original_filename == name
    assert STORED_NAME.fullmatch(item.stored_name) and name not in item.stored_name
    assert item.thumbnail_name == item.stored_name.rsplit(".", 1)[0] + ".thumb.jpg"
    assert stored_files(app) == sorted([item.stored_name, item.thumbnail_name])
    assert (item.format, item.width, item.height) == (detected, 200, 120)
    assert item.byte_size == len(content)
    assert item.sha256 == hashlib.sha256(content).hexdigest()
    assert HEX16.fullmatch(item.perceptual_hash)
    status, headers, body = fetch(seller_client, f"/evidence/{item.id}")
    assert (status, headers["Content-Type"], body) == (200, mimetype, content)


def test_each_screenshot_gets_its_own_row_name_and_perceptual_hash(app, seller, seller_client):
    file_request(seller_client, add_review(app, seller),
                 files=[(image_bytes(seed=1), "same.png"), (image_bytes(seed=2), "same.png")])

    first, second = evidence_rows(app)

    assert first.original_filename == second.original_filename == "same.png"
    assert first.stored_name != second.stored_name
    assert first.perceptual_hash != second.perceptual_hash
    assert len(stored_files(app)) == 4


def test_uploaded_name_is_for_display_only_and_escaped(app, seller, seller_client):
    # (Browsers send a quote in a file name as %22; Werkzeug's test client would not escape it.)
    nasty = "<img src=x onerror=alert(1)>.png"
    request_id = file_request(seller_client, add_review(app, seller), files=[(image_bytes(), nasty)])

    [item] = evidence_rows(app)
    body = page_text(seller_client.get(f"/seller/requests/{request_id}"))

    assert item.original_filename == nasty
    assert "<img src=x onerror" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


# --- bad files -----------------------------------------------------------------------------------

def _text_named_png(app: Flask) -> bytes:
    return b"This is a plain text file pretending to be a screenshot.\n" * 3


def _truncated_png(app: Flask) -> bytes:
    data = noisy_png()
    return data[: len(data) // 2]


def _oversized_png(app: Flask) -> bytes:
    app.config["EVIDENCE_MAX_FILE_BYTES"] = 5_000
    data = noisy_png()
    assert len(data) > 5_000
    return data


@pytest.mark.parametrize("make_file, message", [
    (_text_named_png, "“evil.png” is not a PNG, JPEG, WebP or GIF image."),
    (_truncated_png, "“evil.png” is damaged or incomplete and could not be read."),
    (_oversized_png, "“evil.png” is larger than 4.88 KB."),
], ids=["text file named .png", "truncated png", "over the size limit"])
@pytest.mark.parametrize("with_good_file", [False, True], ids=["alone", "after a good file"])
def test_bad_file_is_refused_with_its_name_and_nothing_is_stored(app, seller, seller_client, make_file,
                                                                 message, with_good_file):
    review_id = add_review(app, seller)
    files = [(make_file(app), "evil.png")]
    if with_good_file:
        files.insert(0, (image_bytes(), "good.png"))

    response = submit(seller_client, review_id, files=files)

    assert response.status_code == 422
    assert message in page_text(response)
    assert nothing_stored(app)


def test_more_files_than_allowed_are_refused(app, seller, seller_client):
    app.config["EVIDENCE_MAX_FILES"] = 2

    response = submit(seller_client, add_review(app, seller),
                      files=[(image_bytes(seed=n), f"{n}.png") for n in range(3)])

    assert response.status_code == 422
    assert "Attach at most 2 screenshots at a time." in page_text(response)
    assert nothing_stored(app)


def test_bad_file_in_an_answer_is_refused_and_the_question_stays_open(app, seller, agent, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    before, counts, files = request_state(app, request_id), row_counts(app), stored_files(app)

    response = answer(seller_client, request_id, "Here you go",
                      files=[(image_bytes(), "ok.png"), (b"not an image at all", "chat.png")])

    assert response.status_code == 422
    assert "“chat.png” is not a PNG, JPEG, WebP or GIF image." in page_text(response)
    assert request_state(app, request_id) == before
    assert row_counts(app) == counts and stored_files(app) == files


# --- all or nothing ------------------------------------------------------------------------------

def _fail_writing_the_second_image(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = backend_class(app)
    real_write, calls = backend.write, []

    def write(self, name, data):
        calls.append(name)
        if len(calls) == 3:  # image and thumbnail of the first file are stored by now
            raise OSError(28, "No space left on device")
        return real_write(self, name, data)

    monkeypatch.setattr(backend, "write", write)


def _fail_recording_the_audit_event(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def record_event(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("moderation_app.services.requests.filing.record_event", record_event)


def _fail_the_commit(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    real_commit = Session.commit

    def commit(self):
        if not in_writing():  # the read that writing() ends first
            return real_commit(self)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(Session, "commit", commit)


FAILURES = [_fail_writing_the_second_image, _fail_recording_the_audit_event, _fail_the_commit]
FAILURE_IDS = ["second file write", "audit event", "commit"]


def expected_status(fail) -> int:
    # A commit lost with the database connection is an outage (503); the others are faults (500).
    return 503 if fail is _fail_the_commit else 500


@pytest.mark.parametrize("fail", FAILURES, ids=FAILURE_IDS)
def test_failure_after_files_were_written_leaves_no_row_and_no_file(app, seller, seller_client,
                                                                    monkeypatch, fail):
    review_id = add_review(app, seller)
    token = seller_client.csrf_token()
    written: list[str] = []
    backend = backend_class(app)
    real_write = backend.write
    monkeypatch.setattr(backend, "write",
                        lambda self, name, data: (written.append(name), real_write(self, name, data))[1])
    fail(app, monkeypatch)

    response = submit(seller_client, review_id, csrf_token=token,
                      files=[(image_bytes(seed=1), "one.png"), (image_bytes("JPEG", seed=2), "two.jpg")])

    assert response.status_code == expected_status(fail)
    assert written, "the failure was meant to come after files were written"
    assert nothing_stored(app)
    monkeypatch.undo()
    assert submit(seller_client, review_id).status_code == 303, "the review stays open to a new request"


@pytest.mark.parametrize("fail", FAILURES[1:], ids=FAILURE_IDS[1:])
def test_failed_answer_leaves_the_question_open_and_no_new_file(app, seller, agent, seller_client,
                                                               monkeypatch, fail):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    before, counts, files = request_state(app, request_id), row_counts(app), stored_files(app)
    token = seller_client.csrf_token()
    fail(app, monkeypatch)

    response = answer(seller_client, request_id, "With the chat", files=[(image_bytes(seed=7), "c.png")],
                      csrf_token=token)

    assert response.status_code == expected_status(fail)
    assert request_state(app, request_id) == before
    assert row_counts(app) == counts
    assert stored_files(app) == files


# --- daily quota ---------------------------------------------------------------------------------

def test_upload_quota_refuses_with_a_message_and_stores_nothing(app, seller, seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 3
    first, second = add_review(app, seller), add_review(app, seller)
    file_request(seller_client, first, files=[(image_bytes(seed=n), f"{n}.png") for n in range(2)])
    counts, files = row_counts(app), stored_files(app)

    response = submit(seller_client, second, files=[(image_bytes(seed=n), f"{n}.png") for n in (5, 6)])

    assert response.status_code == 422
    assert "You can upload at most 3 screenshots in 24 hours; you have 1 left." in page_text(response)
    assert row_counts(app) == counts and stored_files(app) == files
    assert submit(seller_client, second, files=[(image_bytes(seed=7), "7.png")]).status_code == 303


def test_simultaneous_uploads_by_one_seller_cannot_pass_the_quota_together(app, seller,
                                                                          monkeypatch):
    """PostgreSQL: a lock on the seller's row. SQLite: uploads write in IMMEDIATE transactions."""
    app.config["EVIDENCE_DAILY_QUOTA"] = 3
    reviews = [add_review(app, seller), add_review(app, seller)]
    clients = [signed_in(app, seller), signed_in(app, seller)]
    tokens = [client.csrf_token() for client in clients]
    # Both uploads pass the view's early check before either has stored anything.
    both_checked = threading.Barrier(2, timeout=10)
    real_prepare = seller_uploads.prepare_images

    def prepare_after_both_checked(files, limits, **options):
        both_checked.wait()
        return real_prepare(files, limits, **options)

    monkeypatch.setattr(seller_uploads, "prepare_images", prepare_after_both_checked)
    statuses: list[int] = []

    def upload(index: int) -> None:
        files = [(image_bytes(seed=10 * index + n), f"{n}.png") for n in range(2)]
        statuses.append(submit(clients[index], reviews[index], csrf_token=tokens[index],
                               files=files).status_code)

    threads = [threading.Thread(target=upload, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [303, 422]
    assert row_counts(app)["evidence"] == 2


def test_upload_quota_also_applies_to_answers(app, seller, agent, seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 1
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    before, counts, files = request_state(app, request_id), row_counts(app), stored_files(app)

    response = answer(seller_client, request_id, "One more", files=[(image_bytes(seed=2), "more.png")])

    assert response.status_code == 422
    assert "You can upload at most 1 screenshot in 24 hours" in page_text(response)
    assert request_state(app, request_id) == before
    assert row_counts(app) == counts and stored_files(app) == files


def test_upload_quota_is_per_seller(app, seller, seller_client, other_seller, other_seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 1
    file_request(other_seller_client, add_review(app, other_seller))

    file_request(seller_client, add_review(app, seller))

    assert row_counts(app)["evidence"] == 2


def test_uploads_older_than_a_day_do_not_count_against_the_quota(app, seller, seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 1
    file_request(seller_client, add_review(app, seller))
    with app.app_context():
        db.session.execute(update(Evidence).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()

    file_request(seller_client, add_review(app, seller))

    assert row_counts(app)["evidence"] == 2


# --- serving -------------------------------------------------------------------------------------

@pytest.fixture
def evidence(app: Flask, seller: User, seller_client: FormClient) -> Evidence:
    """One PNG screenshot on a request of `seller`, uploaded under a name worth hiding."""
    file_request(seller_client, add_review(app, seller),
                 files=[(image_bytes(size=(640, 480)), "Invoice 4471 for ACME.png")])
    [item] = evidence_rows(app)
    return item


@pytest.mark.parametrize("suffix, mimetype, download_name", [
    ("", "image/png", "evidence-{id}.png"),
    ("/thumbnail", "image/jpeg", "evidence-{id}-thumbnail.jpg"),
], ids=["full size", "thumbnail"])
def test_evidence_is_served_as_an_image_that_cannot_be_sniffed_or_run(app, evidence, seller_client,
                                                                      suffix, mimetype, download_name):
    status, headers, body = fetch(seller_client, f"/evidence/{evidence.id}{suffix}")

    assert status == 200
    assert headers["Content-Type"] == mimetype
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")
    disposition = headers["Content-Disposition"]
    assert f"filename={download_name.format(id=evidence.id)}" in disposition
    assert "Invoice" not in disposition and "ACME" not in disposition
    name = evidence.stored_name if not suffix else evidence.thumbnail_name
    assert body == stored_bytes(app, name)


def test_thumbnail_is_a_320_pixel_jpeg_and_the_full_size_is_the_original_size(app, evidence,
                                                                             seller_client):
    thumbnail = Image.open(io.BytesIO(fetch(seller_client, f"/evidence/{evidence.id}/thumbnail")[2]))
    full_size = Image.open(io.BytesIO(fetch(seller_client, f"/evidence/{evidence.id}")[2]))

    assert (thumbnail.format, thumbnail.size) == ("JPEG", (320, 240))
    assert (full_size.format, full_size.size) == ("PNG", (640, 480))


@pytest.mark.parametrize("staff", ["agent_client", "manager_client"])
@pytest.mark.parametrize("suffix", ["", "/thumbnail"])
def test_agents_and_managers_can_see_any_sellers_evidence(request, evidence, staff, suffix):
    status, headers, _ = fetch(request.getfixturevalue(staff), f"/evidence/{evidence.id}{suffix}")

    assert status == 200
    assert headers["Content-Type"].startswith("image/")


@pytest.mark.parametrize("suffix", ["", "/thumbnail"])
def test_another_seller_gets_404_for_evidence_like_for_a_missing_file(evidence, other_seller_client,
                                                                     suffix):
    foreign = fetch(other_seller_client, f"/evidence/{evidence.id}{suffix}")
    missing = fetch(other_seller_client, f"/evidence/{evidence.id + 1000}{suffix}")

    assert foreign[0] == missing[0] == 404
    assert page_without_csrf_tokens(foreign[2]) == page_without_csrf_tokens(missing[2])
    assert not foreign[2].startswith(b"\x89PNG")


def test_signed_out_visitor_is_sent_to_sign_in_for_evidence(app, evidence):
    status, headers, _ = fetch(app.test_client(), f"/evidence/{evidence.id}")

    assert status == 302
    assert headers["Location"].startswith("/login")


def test_withdrawn_request_keeps_its_evidence_visible_to_its_seller(app, evidence, seller_client):
    seller_client.post_form(f"/seller/requests/{evidence.request_id}/withdraw")

    assert request_state(app, evidence.request_id)["status"] is RequestStatus.WITHDRAWN
    assert fetch(seller_client, f"/evidence/{evidence.id}")[0] == 200


def test_a_file_missing_on_disk_answers_404_not_500(app, seller, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))
    with app.app_context():
        evidence = db.session.scalars(select(Evidence).where(Evidence.request_id == request_id)).one()
        evidence_id = evidence.id
    remove_stored(app, evidence.stored_name)

    response = seller_client.get(f"/evidence/{evidence_id}")

    assert response.status_code == 404


@local_storage_only
@pytest.mark.parametrize("code", [errno.EIO, errno.EMFILE, errno.EACCES],
                         ids=["EIO", "EMFILE", "EACCES"])
def test_a_file_the_disk_cannot_read_for_now_is_a_503_not_a_missing_file(
        app, seller, seller_client, monkeypatch, caplog, code):
    # A 404 would tell the agent the evidence is gone; it is there, the disk is in trouble.
    file_request(seller_client, add_review(app, seller), files=[(image_bytes(), "chat.png")])
    [stored] = evidence_rows(app)
    fail_opening(monkeypatch, stored.stored_name, code)
    response = seller_client.get(f"/evidence/{stored.id}")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "cannot reach its evidence store" in page_text(response)
    assert "evidence file missing" not in caplog.text


@local_storage_only
def test_a_relative_upload_dir_is_one_place_for_storing_and_serving(app, seller, seller_client,
                                                                   tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app.config["UPLOAD_DIR"] = "relative-uploads"
    file_request(seller_client, add_review(app, seller), files=[(image_bytes(), "chat.png")])
    [stored] = evidence_rows(app)

    status, _, body = fetch(seller_client, f"/evidence/{stored.id}")
    assert status == 200
    assert body == (tmp_path / "relative-uploads" / stored.stored_name).read_bytes()
    assert fetch(seller_client, f"/evidence/{stored.id}/thumbnail")[0] == 200
