"""The seller's forms as static/js/uploads.js uses them, through HTTP: screenshots sent again
unchanged while the text is fixed are neither checked nor charged again (a changed set is); a send
from the script is answered 204 + Location, so the page's message waits for the page; the forms
with files may preview blob: images and no other page may; the file inputs carry the limits the
server checks."""

from __future__ import annotations

import re

import pytest

from moderation_app.seller import uploads as seller_uploads
from moderation_app.web import CONTENT_SECURITY_POLICY
from tests.helpers.clients import page_text
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import (
    EXPLANATION,
    ask_for_information,
    evidence_parts,
    file_request,
    submit,
)
from tests.helpers.stored import nothing_stored, row_counts

SCRIPT = {"X-Requested-With": "XMLHttpRequest"}
A, B, C = ((image_bytes(seed=n), f"{name}.png") for n, name in ((1, "a"), (2, "b"), (3, "c")))


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of files of each upload that reached the image checks."""
    calls: list[int] = []
    real_prepare = seller_uploads.prepare_images

    def prepare(files, limits, **options):
        calls.append(len(files))
        return real_prepare(files, limits, **options)

    monkeypatch.setattr(seller_uploads, "prepare_images", prepare)
    return calls


def sent_by_script(client, url: str, data: dict, files):
    """A post as uploads.js makes it: the form's fields and files, and X-Requested-With."""
    return client.post_form(url, {**data, "evidence": evidence_parts(files)},
                            content_type="multipart/form-data", headers=SCRIPT)


def charged(app, seller) -> int:
    return app.extensions[seller_uploads.EXTENSION].count(seller.id)


def refused_for_its_text(response) -> str:
    assert response.status_code == 422
    body = page_text(response)
    assert "Write between 20 and 5000 characters." in body
    return body


# --- rounds --------------------------------------------------------------------------------------

def test_the_same_screenshots_sent_again_while_the_text_is_fixed_are_not_checked_or_charged_again(
        app, seller, seller_client, checked):
    review_id = add_review(app, seller)

    first = refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A, B]))
    again = refused_for_its_text(submit(seller_client, review_id, explanation="still short",
                                        files=[B, A]))

    assert "Your screenshots passed every check" in first and "Your screenshots passed every check" in again
    assert checked == [2]
    assert charged(app, seller) == 2
    assert nothing_stored(app)


def test_a_screenshot_removed_between_rounds_leaves_a_set_that_is_not_charged_again(
        app, seller, seller_client, checked):
    review_id = add_review(app, seller)

    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A, B]))
    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A]))

    assert checked == [2]
    assert charged(app, seller) == 2


@pytest.mark.parametrize("second", [[A, B, C], [A, A, B]], ids=["a new file", "a file twice"])
def test_a_set_with_anything_more_is_checked_and_charged_again(app, seller, seller_client, checked,
                                                               second):
    review_id = add_review(app, seller)

    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A, B]))
    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=second))

    assert checked == [2, 3]
    assert charged(app, seller) == 5


def test_a_refused_file_is_not_remembered_as_passed(app, seller, seller_client):
    review_id = add_review(app, seller)
    not_an_image = (b"plain text, not a picture", "notes.png")

    for _ in range(2):
        response = submit(seller_client, review_id, explanation="short", files=[A, not_an_image])
        assert "“notes.png” is not a PNG, JPEG, WebP or GIF image." in page_text(response)
    assert charged(app, seller) == 4


def test_the_memory_of_passed_screenshots_expires(app, seller, seller_client, checked, monkeypatch):
    review_id = add_review(app, seller)
    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A]))

    monkeypatch.setattr(seller_uploads, "PASSED_SECONDS", -1)
    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A]))

    assert checked == [1, 1]
    assert charged(app, seller) == 2


def test_the_memory_belongs_to_the_seller_whose_round_passed(app, seller, seller_client, checked):
    review_id = add_review(app, seller)
    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A]))
    with seller_client.session_transaction() as session:  # as if another seller had signed in here
        session[seller_uploads.PASSED_KEY] = {**session[seller_uploads.PASSED_KEY], "seller": seller.id + 1}

    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A]))

    assert checked == [1, 1]


def test_remembered_screenshots_are_checked_and_stored_once_the_text_passes(
        app, seller, seller_client, checked):
    review_id = add_review(app, seller)
    refused_for_its_text(submit(seller_client, review_id, explanation="short", files=[A, B]))

    request_id = file_request(seller_client, review_id, files=[A, B])

    assert request_id and checked == [2, 2]  # stored files are always decoded from what was sent
    assert row_counts(app)["evidence"] == 2
    with seller_client.session_transaction() as session:
        assert seller_uploads.PASSED_KEY not in session


# --- sent by the script --------------------------------------------------------------------------

def test_a_request_sent_by_the_script_is_answered_with_where_to_go_and_the_message_waits(
        app, seller, seller_client):
    review_id = add_review(app, seller)

    response = sent_by_script(seller_client, f"/seller/reviews/{review_id}/deletion-request",
                              {"reason": "blackmail", "explanation": EXPLANATION}, [A])

    assert response.status_code == 204
    assert re.fullmatch(r"/seller/requests/\d+", response.headers["Location"])
    assert "Your request was submitted" in page_text(seller_client.get(response.headers["Location"]))


def test_a_refused_round_sent_by_the_script_is_the_same_page_with_422(app, seller, seller_client):
    review_id = add_review(app, seller)

    body = refused_for_its_text(sent_by_script(
        seller_client, f"/seller/reviews/{review_id}/deletion-request",
        {"reason": "blackmail", "explanation": "short"}, [A]))

    assert 'data-swap="summary"' in body and 'data-kept-text="' in body


def test_an_answer_sent_by_the_script_is_answered_with_where_to_go(app, seller, seller_client,
                                                                 agent):
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)

    response = sent_by_script(seller_client, f"/seller/requests/{request_id}/evidence",
                              {"message": "Here is the chat."}, [B])

    assert response.status_code == 204
    assert response.headers["Location"] == f"/seller/requests/{request_id}"
    page = page_text(seller_client.get(f"/seller/requests/{request_id}"))
    assert "Your answer is with customer service" in page


# --- what the pages give the script --------------------------------------------------------------

def test_only_the_pages_with_file_inputs_may_show_blob_previews(app, seller, seller_client):
    review_id = add_review(app, seller)
    preview = f"{CONTENT_SECURITY_POLICY}; img-src 'self' blob:"

    form = seller_client.get(f"/seller/reviews/{review_id}/deletion-request")
    refused = submit(seller_client, review_id, explanation="short", files=[A])
    request_id = file_request(seller_client, review_id)
    detail = seller_client.get(f"/seller/requests/{request_id}")
    reviews = seller_client.get("/seller/reviews")

    assert [page.headers["Content-Security-Policy"] for page in (form, refused, detail)] == [preview] * 3
    assert reviews.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for page in (form, refused, detail, reviews):
        page.close()


def test_the_file_inputs_carry_the_limits_the_server_checks(app, seller, seller_client, agent):
    app.config.update(EVIDENCE_MAX_FILES=4, EVIDENCE_MAX_FILE_BYTES=3_000_000,
                      EVIDENCE_MAX_TOTAL_BYTES=9_000_000)
    review_id = add_review(app, seller)
    form_page = page_text(seller_client.get(f"/seller/reviews/{review_id}/deletion-request"))
    request_id = file_request(seller_client, review_id)
    ask_for_information(app, request_id, agent)
    answer_page = page_text(seller_client.get(f"/seller/requests/{request_id}"))

    for body in (form_page, answer_page):
        file_input = re.search(r'<input[^>]*type="file"[^>]*>', body).group(0)
        assert 'data-max-files="4"' in file_input
        assert 'data-max-file-bytes="3000000"' in file_input
        assert 'data-max-total-bytes="9000000"' in file_input
        assert re.search(r"<form[^>]*\bdata-uploads\b", body)
        assert '<script src="/static/js/uploads.js" defer></script>' in body
    script = seller_client.get("/static/js/uploads.js")
    assert script.status_code == 200
    script.close()


def test_a_request_page_without_a_question_loads_no_upload_script(app, seller, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))

    assert "uploads.js" not in page_text(seller_client.get(f"/seller/requests/{request_id}"))
