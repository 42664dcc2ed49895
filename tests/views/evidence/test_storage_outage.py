"""When S3 cannot be reached: an upload is refused with a message that says so and keeps what the
seller typed, nothing is written (no request, no evidence row, no event); a download answers 503
without a traceback; and a mistyped EVIDENCE_STORAGE stops the app at start-up."""

from __future__ import annotations

import socket

import pytest
from flask import Flask

from moderation_app import create_app
from moderation_app.config import ConfigError
from moderation_app.seller.uploads import STORAGE_DOWN
from tests.helpers.clients import page_text
from tests.helpers.database import base_test_config
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import EXPLANATION, answer, ask_for_information, file_request, submit
from tests.helpers.stored import NOTHING, evidence_rows, request_state, row_counts


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def s3_down(app: Flask) -> None:
    app.config.update(EVIDENCE_STORAGE="s3://desk-evidence/desk/",
                      S3_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}")


def test_a_request_filed_while_s3_is_down_is_refused_with_its_text_kept_and_nothing_written(
        app, seller, seller_client, caplog):
    review_id = add_review(app, seller)
    s3_down(app)

    response = submit(seller_client, review_id)

    assert response.status_code == 422
    text = page_text(response)
    assert STORAGE_DOWN in text
    assert EXPLANATION in response.get_data(as_text=True)  # the seller's words are still there
    assert row_counts(app) == NOTHING
    assert "evidence store unavailable" in caplog.text
    assert "Traceback" not in caplog.text.split("evidence store unavailable", 1)[1]


def test_an_answer_with_screenshots_while_s3_is_down_leaves_the_question_open(
        app, seller, agent, seller_client):
    request_id = file_request(seller_client, add_review(app, seller))  # stored before the outage
    ask_for_information(app, request_id, agent)
    before, counts = request_state(app, request_id), row_counts(app)
    s3_down(app)

    response = answer(seller_client, request_id, "The chat",
                      files=[(image_bytes("PNG", seed=11), "chat.png")])

    assert response.status_code == 422
    assert STORAGE_DOWN in page_text(response)
    assert request_state(app, request_id) == before and row_counts(app) == counts


def test_a_download_while_s3_is_down_answers_503_and_says_why(app, seller, seller_client, caplog):
    file_request(seller_client, add_review(app, seller))
    [row] = evidence_rows(app)
    s3_down(app)

    response = seller_client.get(f"/evidence/{row.id}")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "cannot reach its evidence store" in page_text(response)
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("location, reason", [
    ("uploads/", "not an s3://bucket/prefix location"),
    ("s3://", "not an s3://bucket/prefix location"),
    ("s3://Evidence_Bucket/desk", "not a valid bucket name"),
    ("s3://evidence/desk?x=1", "no query or fragment"),
    ("s3://evidence/de sk", "in the prefix"),
])
def test_a_mistyped_evidence_storage_stops_the_app_at_start_up(tmp_path, location, reason):
    config = base_test_config("sqlite://", tmp_path) | {"EVIDENCE_STORAGE": location}

    with pytest.raises(ConfigError, match=reason):
        create_app(config)


def test_an_s3_endpoint_must_be_an_http_address(tmp_path):
    config = base_test_config("sqlite://", tmp_path) | {"EVIDENCE_STORAGE": "s3://evidence/desk",
                                                        "S3_ENDPOINT_URL": "127.0.0.1:8333"}

    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL must be an http"):
        create_app(config)
