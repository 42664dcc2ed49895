"""The deletion-request form's feedback through HTTP: every error in one round (text and files
together), what a refused round costs against the upload quota, the stated response time, an
example for each reason, and the explanation's length shown without JavaScript."""

from __future__ import annotations

import io
import re

import pytest
from markupsafe import escape

from moderation_app.models import Reason
from tests.helpers.clients import page_text
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, file_request, submit
from tests.helpers.stored import nothing_stored, row_counts

NOT_AN_IMAGE = b"this is plain text, not a picture"
MISSING_REASON = "Choose one of the four reasons."
MISSING_EXPLANATION = "Explain why the review fits the reason."
MISSING_FILES = "Attach at least one screenshot."


def summary_items(body: str) -> list[str]:
    match = re.search(r'<div class="notice notice-error error-summary" role="alert">(.*?)</div>', body,
                      re.DOTALL)
    assert match, "no error summary"
    return re.findall(r'<li><a href="#[^"]+">(.*?)</a></li>', match.group(1))


# --- every error in one round --------------------------------------------------------------------

def test_an_empty_submit_flags_the_reason_the_explanation_and_the_screenshots_together(
        app, seller, seller_client):
    review_id = add_review(app, seller)

    response = submit(seller_client, review_id, reason=None, explanation=None, files=[])

    assert response.status_code == 422
    body = page_text(response)
    assert summary_items(body) == [MISSING_REASON, MISSING_EXPLANATION, MISSING_FILES]
    # Each message beside its field as well.
    assert re.findall(r'<p class="field-error" id="[^"]+">(.*?)</p>', body) == [
        MISSING_REASON, MISSING_EXPLANATION, MISSING_FILES]
    assert nothing_stored(app)


def test_a_bad_file_is_reported_in_the_same_round_as_a_short_explanation(app, seller, seller_client):
    review_id = add_review(app, seller)

    response = submit(seller_client, review_id, explanation="too short",
                      files=[(image_bytes(seed=1), "chat.png"), (NOT_AN_IMAGE, "notes.png")])

    assert response.status_code == 422
    assert summary_items(page_text(response)) == [
        "Write between 20 and 5000 characters.",
        "“notes.png” is not a PNG, JPEG, WebP or GIF image.",
    ]
    assert nothing_stored(app)


def test_the_summary_links_each_error_to_its_field(app, seller, seller_client):
    review_id = add_review(app, seller)

    body = page_text(submit(seller_client, review_id, reason=None, explanation=None, files=[]))

    assert re.findall(r'<li><a href="#([^"]+)">', body) == ["reason-0", "explanation", "evidence"]
    for field_id in ("reason-0", "explanation", "evidence"):
        assert f'id="{field_id}"' in body
    assert re.search(r'<textarea[^>]*aria-invalid="true"[^>]*id="explanation"', body)


def test_good_screenshots_with_a_refused_text_are_not_stored_and_the_seller_is_told_to_choose_them_again(
        app, seller, seller_client):
    review_id = add_review(app, seller)

    response = submit(seller_client, review_id, explanation="",
                      files=[(image_bytes(seed=1), "chat.png")])

    assert response.status_code == 422
    body = page_text(response)
    assert summary_items(body) == [MISSING_EXPLANATION]
    assert "Your screenshots passed every check" in body
    assert "choose them again" in body
    assert nothing_stored(app)


def test_a_form_that_passes_shows_no_summary_and_is_stored(app, seller, seller_client):
    review_id = add_review(app, seller)

    file_request(seller_client, review_id)

    assert row_counts(app)["requests"] == 1
    assert row_counts(app)["evidence"] == 1


def test_screenshots_checked_for_a_refused_text_count_against_the_daily_quota(app, seller,
                                                                              seller_client):
    # They were decoded all the same: an empty explanation must not make decoding free.
    app.config["EVIDENCE_DAILY_QUOTA"] = 3
    review_id = add_review(app, seller)
    two = [(image_bytes(seed=n), f"{n}.png") for n in range(2)]

    assert submit(seller_client, review_id, explanation="", files=two).status_code == 422
    response = submit(seller_client, review_id, files=two)

    assert response.status_code == 422
    assert "you have 1 left" in page_text(response)
    assert nothing_stored(app)


def test_a_forged_form_has_its_files_ignored_and_nothing_counted(app, seller, seller_client):
    app.config["EVIDENCE_DAILY_QUOTA"] = 1
    review_id = add_review(app, seller)

    forged = seller_client.post(f"/seller/reviews/{review_id}/deletion-request",
                                data={"reason": "blackmail", "explanation": "",
                                      "evidence": [(io.BytesIO(image_bytes()), "a.png")]},
                                content_type="multipart/form-data")

    assert forged.status_code in (400, 422)
    file_request(seller_client, review_id)  # the one file of the quota is still there
    assert row_counts(app)["evidence"] == 1


def test_a_review_that_cannot_be_challenged_reads_no_files(app, seller, seller_client):
    review_id = add_review(app, seller)
    add_request(app, seller, review_id)

    response = submit(seller_client, review_id, reason=None, explanation=None,
                      files=[(NOT_AN_IMAGE, "bad.png")])

    assert response.status_code == 422
    body = page_text(response)
    assert "already has an open deletion request" in body
    assert "not a PNG" not in body


# --- what the form tells the seller before they start -------------------------------------------

@pytest.mark.parametrize("hours", [48, 24])
def test_the_form_and_an_open_request_state_the_response_time_from_the_setting(
        app, seller, seller_client, hours):
    app.config["RESPONSE_TARGET_HOURS"] = hours
    review_id = add_review(app, seller)

    form_page = page_text(seller_client.get(f"/seller/reviews/{review_id}/deletion-request"))
    request_id = file_request(seller_client, review_id)
    request_page = page_text(seller_client.get(f"/seller/requests/{request_id}"))

    assert f"We answer within {hours} hours." in form_page
    assert f"We answer within {hours} hours." in request_page


def test_the_form_gives_an_example_for_each_of_the_four_reasons(app, seller, seller_client):
    review_id = add_review(app, seller)

    body = page_text(seller_client.get(f"/seller/reviews/{review_id}/deletion-request"))

    examples = [reason.example for reason in Reason]
    assert len(set(examples)) == 4 and all(examples)
    for example in examples:
        assert f"Example: {escape(example)}" in body


def test_the_explanation_states_its_limit_and_counts_with_javascript(app, seller, seller_client):
    review_id = add_review(app, seller)

    body = page_text(seller_client.get(f"/seller/reviews/{review_id}/deletion-request"))

    assert re.search(r'<p class="muted small char-count" id="explanation-count" aria-live="polite">'
                     r'Up to 5,000 characters\.</p>', body)
    textarea = re.search(r"<textarea[^>]*>", body).group(0)
    assert 'data-counter="explanation-count"' in textarea
    assert 'data-max-length="5000"' in textarea
    assert "explanation-count" in re.search(r'aria-describedby="([^"]*)"', textarea).group(1)
    # A long paste is kept whole and flagged, not cut by the browser at the limit.
    assert "maxlength" not in textarea
    assert '<script src="/static/js/counter.js" defer></script>' in body
    script = seller_client.get("/static/js/counter.js")
    assert script.status_code == 200
    script.close()


def test_an_explanation_over_the_limit_is_kept_and_says_by_how_much(app, seller, seller_client):
    review_id = add_review(app, seller)

    body = page_text(submit(seller_client, review_id, explanation="x" * 6000))

    assert "x" * 6000 in body
    assert "6,000 characters: 1,000 over the limit of 5,000." in body
    assert nothing_stored(app)
