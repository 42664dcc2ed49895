"""Large uploads decoded by a job (services/evidence/processing.py), through the real HTTP stack, the
machine's Redis and a real RQ worker: held as received and shown as "processing…", then stored as
evidence with the same checks and audit trail as a small upload; a damaged one shown as failed;
decisions that need the evidence refused meanwhile; a Redis outage and a lost job losing nothing."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import re
import time

import pytest
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import (
    AuditEvent,
    DeletionRequest,
    Evidence,
    EvidenceUpload,
    UploadStatus,
)
from moderation_app.security_log import logger as security_logger
from moderation_app.services.evidence import processing
from moderation_app.services.evidence.backends import StorageUnavailable
from moderation_app.services.evidence.processing import GAVE_UP, LOST
from moderation_app.sessions import LAST_SEEN_AT
from tests.helpers.appeals import decide
from tests.helpers.clients import page_text
from tests.helpers.images import image_bytes, noisy_png
from tests.helpers.jobs import UNREACHABLE_REDIS_URL, job_queue, run_worker
from tests.helpers.marketplace import add_review
from tests.helpers.s3 import local_storage_only
from tests.helpers.requests import answer, ask_for_information, file_request, submit, submitted_id
from tests.helpers.stored import (
    all_rows,
    backend_class,
    fail_opening,
    load,
    nothing_stored,
    remove_stored,
    stored_bytes,
    stored_files,
)
from tests.views.evidence.test_evidence import _fail_recording_the_audit_event, _fail_the_commit

SCREENSHOTS = [(image_bytes("PNG", seed=21), "chat-1.png"), (image_bytes("JPEG", seed=22), "chat-2.jpg")]


@pytest.fixture
def large_from_one_pixel(app):
    """Every upload counts as large: held for a job whenever there is a queue."""
    app.config["EVIDENCE_BACKGROUND_PIXELS"] = 1


def uploads(app) -> list[EvidenceUpload]:
    return all_rows(app, EvidenceUpload)


def evidence(app) -> list[Evidence]:
    return all_rows(app, Evidence)


def events(app, action: str) -> list[dict]:
    with app.app_context():
        return [json.loads(details) for details in db.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def held_names(app) -> list[str]:
    return [name for name in stored_files(app) if name.endswith(".upload")]


NOTHING_DONE = "0 stored, 0 could not be decoded, 0 already done elsewhere, 0 left processing"


def summary(result) -> str:
    """The last line `evidence process` prints."""
    return result.output.strip().splitlines()[-1]


def upload_refusals(caplog) -> list[dict]:
    """The security log's upload_refused events, as logged."""
    return [json.loads(record.getMessage().removeprefix("security ")) for record in caplog.records
            if record.name == security_logger.name and "upload_refused" in record.getMessage()]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_large_upload_is_answered_at_once_shown_processing_then_stored_by_the_worker(
        app, seller, seller_client, agent_client, large_from_one_pixel):
    with job_queue(app) as queue:
        request_id = submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))

        held = uploads(app)
        assert [(row.original_filename, row.status) for row in held] == [
            ("chat-1.png", UploadStatus.PROCESSING), ("chat-2.jpg", UploadStatus.PROCESSING)]
        assert evidence(app) == [] and queue.count == 1
        # Held exactly as received, under names that are never served.
        assert [stored_bytes(app, row.held_name) for row in held] == [data for data, _ in SCREENSHOTS]
        [submitted] = events(app, "request.submitted")
        assert [(item["received_sha256"], item["processing"]) for item in submitted["evidence"]] == [
            (sha256(data), True) for data, _ in SCREENSHOTS]

        for client in (seller_client, agent_client):
            page = page_text(client.get(f"/{'seller/' if client is seller_client else ''}"
                                        f"requests/{request_id}"))
            assert page.count("Processing…") == 2 and "chat-2.jpg" in page
            assert f'data-url="/evidence/processing/{request_id}"' in page
            # Where the script goes once they are ready: the page itself, by GET.
            assert re.search(r'data-page="(/seller)?/requests/%d"' % request_id, page)
            assert client.get(f"/evidence/processing/{request_id}").get_json() == {"processing": 2}

        assert run_worker(app)

    assert uploads(app) == [] and held_names(app) == []
    stored = evidence(app)
    assert [(row.original_filename, row.format) for row in stored] == [
        ("chat-1.png", "png"), ("chat-2.jpg", "jpeg")]
    # Re-encoded as a small upload is: the stored file is not the one received.
    for row, (data, _) in zip(stored, SCREENSHOTS):
        assert sha256(stored_bytes(app, row.stored_name)) == row.sha256 != sha256(data)
    processed = events(app, "evidence.processed")
    assert [(item["upload_id"], item["evidence_id"], item["received_sha256"], item["sha256"])
            for item in processed] == [
        (upload.id, row.id, sha256(data), row.sha256)
        for upload, row, (data, _) in zip(held, stored, SCREENSHOTS)]
    page = page_text(seller_client.get(f"/seller/requests/{request_id}"))
    assert "Processing…" not in page and f"/evidence/{stored[0].id}/thumbnail" in page
    assert seller_client.get(f"/evidence/processing/{request_id}").get_json() == {"processing": 0}
    download = seller_client.get(f"/evidence/{stored[1].id}")
    assert download.status_code == 200 and download.mimetype == "image/jpeg"
    download.close()


def test_small_uploads_are_decoded_at_once_even_with_a_queue(app, seller, seller_client):
    app.config["EVIDENCE_BACKGROUND_PIXELS"] = 160 * 100 * 2 + 1  # more than the two files have
    with job_queue(app) as queue:
        submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
        assert queue.count == 0
    assert uploads(app) == [] and len(evidence(app)) == 2


def test_without_a_queue_every_upload_is_decoded_at_once(app, seller, seller_client,
                                                         large_from_one_pixel):
    assert not app.config.get("REDIS_URL")
    submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
    assert uploads(app) == [] and len(evidence(app)) == 2


def test_with_redis_down_the_files_are_decoded_in_the_request_and_nothing_waits(
        app, seller, seller_client, large_from_one_pixel, caplog):
    with job_queue(app, UNREACHABLE_REDIS_URL):
        request_id = submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
    assert uploads(app) == [] and held_names(app) == []
    assert [row.request_id for row in evidence(app)] == [request_id, request_id]
    assert "decoded in the request" in caplog.text


def test_a_held_file_that_cannot_be_decoded_is_shown_as_failed_and_still_counts_against_the_quota(
        app, seller, seller_client, large_from_one_pixel):
    whole = noisy_png()
    cut = whole[: len(whole) // 2]  # its header is fine: only decoding finds the damage
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller),
                                         files=[(image_bytes("PNG", seed=23), "good.png"),
                                                (cut, "cut.png")]))
        assert run_worker(app)

    [failed] = uploads(app)
    assert failed.status is UploadStatus.FAILED and failed.held_name is None
    assert failed.error == "“cut.png” is damaged or incomplete and could not be read."
    assert held_names(app) == [] and [row.original_filename for row in evidence(app)] == ["good.png"]
    [event] = events(app, "evidence.failed")
    assert event == {"upload_id": failed.id, "received_sha256": sha256(cut),
                     "reason": failed.error}
    page = page_text(seller_client.get(f"/seller/requests/{request_id}"))
    assert "Could not be processed" in page and failed.error in page
    assert "data-processing-status" not in page

    # Two files so far; a quota of three leaves room for one more, not two.
    app.config["EVIDENCE_DAILY_QUOTA"] = 3
    refused = submit(seller_client, add_review(app, seller),
                     files=[(image_bytes("PNG", seed=24), "a.png"), (image_bytes("PNG", seed=25), "b.png")])
    assert refused.status_code == 422
    assert "you have 1 left" in page_text(refused)


def test_approve_and_reject_wait_for_the_evidence_but_a_question_can_be_asked(
        app, seller, seller_client, agent_client, large_from_one_pixel):
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        for decision in ("approve", "reject"):
            response = decide(agent_client, request_id, decision, "The chat shows it clearly.")
            assert response.status_code == 409, response.status_code
            assert ("1 screenshot is still being processed; approve or reject once the evidence "
                    "is shown") in page_text(response)
        assert events(app, "request.decided") == []

        assert run_worker(app)
        response = decide(agent_client, request_id, "approve", "The chat shows it clearly.")
        assert response.status_code == 303
    [decided] = events(app, "request.decided")
    assert decided["decision"] == "approve"


def test_a_refused_approval_never_says_to_reload_its_page_and_links_to_the_page_instead(
        app, seller, seller_client, agent_client, large_from_one_pixel):
    # The refusal answers the POST: reloading it would send the approval again, unseen, as soon
    # as the files are ready. The holder is pointed to a GET of the page instead.
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        response = decide(agent_client, request_id, "approve", "The chat shows it clearly.")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    [refusal] = re.findall(r'<p class="error-summary-title">(.*?)</p>', html, re.S)
    assert refusal == ("1 screenshot is still being processed; approve or reject once the "
                       "evidence is shown: this page says when it is ready.")
    [notice] = re.findall(r"<p [^>]*data-processing-notice[^>]*>.*?</p>", html, re.S)
    assert f'<a href="/requests/{request_id}">Open the page again</a>' in notice


def shown_count(html: str) -> str:
    [value] = re.findall(r'name="evidence_shown" type="hidden" value="(\d+)"', html)
    return value


def test_a_page_opened_while_processing_cannot_approve_what_it_never_showed(
        app, seller, seller_client, agent_client, large_from_one_pixel):
    """The worker stores the file after the holder opened the page: the page's form says it
    showed no screenshot, so approving from it is refused and the page comes back with the
    evidence and a form that counts it; a question does not need the evidence."""
    note = "The chat shows it clearly."
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        agent_client.post_form(f"/requests/{request_id}/claim")
        opened = shown_count(agent_client.get(f"/requests/{request_id}").get_data(as_text=True))
        assert opened == "0"
        assert run_worker(app)
        for decision in ("approve", "reject"):
            response = agent_client.post_form(f"/requests/{request_id}", {
                "decision": decision, "note": note, "evidence_shown": opened})
            assert response.status_code == 409
            assert ("1 screenshot was added since this page was opened; look at the evidence "
                    "above, then record the decision again.") in page_text(response)
        assert events(app, "request.decided") == []
        html = response.get_data(as_text=True)
        assert "Evidence (1)" in page_text(response) and note in html
        response = agent_client.post_form(f"/requests/{request_id}", {
            "decision": "approve", "note": note, "evidence_shown": shown_count(html)})
    assert response.status_code == 303
    assert [item["decision"] for item in events(app, "request.decided")] == ["approve"]


def test_a_stale_page_may_still_ask_a_question(app, seller, seller_client, agent_client,
                                               large_from_one_pixel):
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        assert run_worker(app)
        agent_client.post_form(f"/requests/{request_id}/claim")
        response = agent_client.post_form(f"/requests/{request_id}", {
            "decision": "request_info", "note": "Which offer is it about?", "evidence_shown": "0"})
    assert response.status_code == 303


def test_a_question_is_allowed_while_processing(app, seller, seller_client, agent_client,
                                                large_from_one_pixel):
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        response = decide(agent_client, request_id, "request_info", "Which offer is it about?")
    assert response.status_code == 303
    assert [item["decision"] for item in events(app, "request.decided")] == ["request_info"]


def test_an_answers_large_screenshots_are_held_with_the_answer_and_shown_in_its_entry(
        app, seller, agent, seller_client, large_from_one_pixel):
    app.config["EVIDENCE_BACKGROUND_PIXELS"] = 10**9  # the filing itself is small
    request_id = file_request(seller_client, add_review(app, seller))
    ask_for_information(app, request_id, agent)
    app.config["EVIDENCE_BACKGROUND_PIXELS"] = 1
    with job_queue(app):
        response = answer(seller_client, request_id, "Here is the whole chat.",
                          files=[(image_bytes("PNG", seed=26), "whole-chat.png")])
        assert response.status_code == 303
        [held] = uploads(app)
        assert held.message_id is not None
        [answered] = events(app, "request.evidence_added")
        assert answered["evidence"][0]["upload_id"] == held.id
        page = page_text(seller_client.get(f"/seller/requests/{request_id}"))
        assert "whole-chat.png" in page and "Your evidence (1 · 1 processing)" in page
        assert run_worker(app)
    newest = evidence(app)[-1]
    assert (newest.original_filename, newest.message_id) == ("whole-chat.png", held.message_id)
    page = page_text(seller_client.get(f"/seller/requests/{request_id}"))
    assert "Processing…" not in page and f"/evidence/{newest.id}/thumbnail" in page


def test_a_lost_job_is_done_by_evidence_process_and_a_second_run_changes_nothing(
        app, seller, seller_client, runner, large_from_one_pixel):
    with job_queue(app) as queue:
        request_id = submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
        queue.empty()  # Redis lost the job

        young = runner.invoke(args=["evidence", "process"])
        assert young.exit_code == 0
        assert summary(young) == NOTHING_DONE + "; 2 younger than 60 s left to their job"
        assert len(uploads(app)) == 2

        result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
        assert result.exit_code == 0, result.output
        assert summary(result) == ("2 stored, 0 could not be decoded, 0 already done elsewhere, "
                                   "0 left processing")
        again = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
        assert again.exit_code == 0 and summary(again) == NOTHING_DONE
    assert uploads(app) == [] and held_names(app) == []
    assert [row.request_id for row in evidence(app)] == [request_id, request_id]
    assert len(events(app, "evidence.processed")) == 2


def test_the_worker_after_the_sweep_finds_nothing_to_do(app, seller, seller_client, runner,
                                                        large_from_one_pixel):
    with job_queue(app):
        submitted_id(submit(seller_client, add_review(app, seller)))
        assert runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"]).exit_code == 0
        assert run_worker(app)  # its job runs and finds the upload gone
    assert len(evidence(app)) == 1 and len(events(app, "evidence.processed")) == 1


def test_the_processing_count_is_only_for_those_who_may_see_the_request(
        app, seller, seller_client, other_seller_client, client, large_from_one_pixel):
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
    assert other_seller_client.get(f"/evidence/processing/{request_id}").status_code == 404
    assert seller_client.get("/evidence/processing/999999").status_code == 404
    anonymous = client.get(f"/evidence/processing/{request_id}")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")


def test_gc_leaves_held_uploads_alone(app, seller, seller_client, runner, large_from_one_pixel):
    with job_queue(app):
        submitted_id(submit(seller_client, add_review(app, seller)))
        result = runner.invoke(args=["evidence", "gc", "--min-age-minutes", "0"])
    assert result.exit_code == 0, result.output
    assert "removed 0 orphan files" in result.output
    [held] = uploads(app)
    assert held_names(app) == [held.held_name]


def test_a_held_file_lost_from_the_store_is_marked_failed_not_left_processing(
        app, seller, seller_client, agent_client, large_from_one_pixel):
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        [held] = uploads(app)
        remove_stored(app, held.held_name)
        assert run_worker(app)
    [lost] = uploads(app)
    assert (lost.status, lost.error) == (UploadStatus.FAILED, LOST) and evidence(app) == []
    agent_client.post_form(f"/requests/{request_id}/claim")
    page = page_text(agent_client.get(f"/requests/{request_id}"))
    assert LOST in page and "Ask the seller for it again" in page
    assert "still being processed" not in page


def test_the_holder_is_told_why_approve_and_reject_wait(app, seller, seller_client, agent_client,
                                                         large_from_one_pixel):
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
        agent_client.post_form(f"/requests/{request_id}/claim")
        page = page_text(agent_client.get(f"/requests/{request_id}"))
    assert "Evidence (0 · 2 processing)" in page
    assert "2 screenshots are still being processed: approve and reject wait" in page


def test_the_queue_counts_files_still_processing_apart_from_the_stored_ones(
        app, seller, seller_client, agent_client, large_from_one_pixel):
    def evidence_cell(request_id: int) -> str:
        html = agent_client.get("/queue").get_data(as_text=True)
        row = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*?/requests/{request_id}".*?</tr>', html, re.S)
        cell = re.search(r'class="queue-evidence"[^>]*>(.*?)</td>', row.group(0), re.S)
        return " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split())

    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
        assert evidence_cell(request_id) == "0 files + 2 processing"
        assert run_worker(app)
    assert evidence_cell(request_id) == "2 files"


@pytest.mark.parametrize("fail", [_fail_recording_the_audit_event, _fail_the_commit],
                         ids=["audit event", "commit"])
def test_a_filing_that_fails_after_holding_its_files_leaves_no_row_and_no_file(
        app, seller, seller_client, monkeypatch, fail, large_from_one_pixel):
    review_id = add_review(app, seller)
    token = seller_client.csrf_token()
    with job_queue(app) as queue:
        fail(app, monkeypatch)
        response = submit(seller_client, review_id, csrf_token=token, files=SCREENSHOTS)
        monkeypatch.undo()
        assert response.status_code == (503 if fail is _fail_the_commit else 500)
        assert queue.count == 0
    assert nothing_stored(app) and uploads(app) == []


def test_two_runs_at_once_store_the_file_once(app, seller, seller_client, runner, monkeypatch,
                                              large_from_one_pixel):
    """The sweep finishes the upload while the job is decoding it: the job finds it gone."""
    real_prepare = processing.prepare_image
    swept: list[str] = []
    started = []

    def prepare_while_the_sweep_runs(name, data, limits):
        if not started:  # the job's decode; the sweep inside it decodes unhindered
            started.append(name)
            swept.append(summary(runner.invoke(args=["evidence", "process",
                                                     "--older-than-seconds", "0"])))
        return real_prepare(name, data, limits)

    with job_queue(app):
        submitted_id(submit(seller_client, add_review(app, seller)))
        monkeypatch.setattr(processing, "prepare_image", prepare_while_the_sweep_runs)
        assert run_worker(app)
    assert swept == ["1 stored, 0 could not be decoded, 0 already done elsewhere, 0 left processing"]
    assert len(evidence(app)) == 1 and len(events(app, "evidence.processed")) == 1
    assert uploads(app) == [] and held_names(app) == []


def test_a_file_that_stops_its_worker_every_time_is_given_up_after_three_tries(
        app, seller, seller_client, runner, monkeypatch, large_from_one_pixel):
    def crash(name, data, limits):
        raise MemoryError("the worker ran out of memory")

    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
    monkeypatch.setattr(processing, "prepare_image", crash)
    for attempt in (1, 2, 3):
        result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
        assert result.exit_code == 1 and "left processing (MemoryError" in result.output
        assert [row.attempts for row in uploads(app)] == [attempt]
    result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
    assert result.exit_code == 0 and summary(result).startswith("0 stored, 1 could not be decoded")
    [given_up] = uploads(app)
    assert (given_up.status, given_up.error) == (UploadStatus.FAILED, GAVE_UP)
    assert held_names(app) == []
    [event] = events(app, "evidence.failed")
    assert event["reason"] == GAVE_UP
    with app.app_context():
        review_id = db.session.scalar(select(AuditEvent.review_id).where(
            AuditEvent.action == "evidence.failed"))
    assert review_id is not None and review_id == load(app, DeletionRequest, request_id).review_id


def test_one_upload_that_errors_does_not_stop_the_others(app, seller, seller_client, runner,
                                                         monkeypatch, large_from_one_pixel):
    real_prepare = processing.prepare_image

    def fail_the_first(name, data, limits):
        if name == "chat-1.png":
            raise RuntimeError("unexpected")
        return real_prepare(name, data, limits)

    with job_queue(app):
        submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
        monkeypatch.setattr(processing, "prepare_image", fail_the_first)
        run_worker(app)  # the job fails (RQ keeps it), after the second file was stored
    assert [row.original_filename for row in evidence(app)] == ["chat-2.jpg"]
    assert [(row.original_filename, row.status) for row in uploads(app)] == [
        ("chat-1.png", UploadStatus.PROCESSING)]


def test_a_job_past_its_timeout_stops_instead_of_going_on_with_the_next_file(
        app, seller, seller_client, monkeypatch, large_from_one_pixel):
    """RQ's timeout (SIGALRM) is not one upload's trouble: the job ends there, its try counted;
    what is left waits for the sweep rather than running on past the limit."""
    app.config["JOBS_TIMEOUT_SECONDS"] = 1
    real_prepare = processing.prepare_image

    def slow_first(name, data, limits):
        if name == "chat-1.png":
            time.sleep(5)
        return real_prepare(name, data, limits)

    with job_queue(app):
        submitted_id(submit(seller_client, add_review(app, seller), files=SCREENSHOTS))
        monkeypatch.setattr(processing, "prepare_image", slow_first)
        started = time.monotonic()
        run_worker(app)
        assert time.monotonic() - started < 4
    assert evidence(app) == []
    assert [(row.original_filename, row.status, row.attempts) for row in uploads(app)] == [
        ("chat-1.png", UploadStatus.PROCESSING, 1), ("chat-2.jpg", UploadStatus.PROCESSING, 0)]


def test_a_failed_decode_is_in_the_security_log(app, seller, seller_client, caplog,
                                                 large_from_one_pixel):
    caplog.set_level(logging.INFO, logger=security_logger.name)
    whole = noisy_png()
    with job_queue(app):
        submitted_id(submit(seller_client, add_review(app, seller),
                            files=[(whole[: len(whole) // 2], "cut.png")]))
        assert run_worker(app)
    refusals = upload_refusals(caplog)
    assert [(event["seller_id"], event["processed_later"]) for event in refusals] == [
        (seller.id, True)]
    assert "“cut.png” is damaged" in refusals[0]["reason"]


def test_polling_the_processing_count_does_not_keep_an_idle_session_alive(
        app, seller, seller_client, agent_client, large_from_one_pixel):
    with job_queue(app):
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
    with agent_client.session_transaction() as session:
        session[LAST_SEEN_AT] = int(time.time()) - 20 * 60
        before = session[LAST_SEEN_AT]
    assert agent_client.get(f"/evidence/processing/{request_id}").status_code == 200
    with agent_client.session_transaction() as session:
        assert session[LAST_SEEN_AT] == before
    assert agent_client.get(f"/requests/{request_id}").status_code == 200  # a person's visit does
    with agent_client.session_transaction() as session:
        assert session[LAST_SEEN_AT] > before


def test_a_failed_decode_found_by_the_sweep_is_in_the_security_log_too(
        app, seller, seller_client, runner, caplog, large_from_one_pixel):
    """The job's lost: `evidence process` decodes the file and finds it damaged. The operators see
    that refusal as they do when the job finds it (docs/jobs.md: evidence.failed and the security
    log)."""
    caplog.set_level(logging.INFO, logger=security_logger.name)
    whole = noisy_png()
    with job_queue(app) as queue:
        submitted_id(submit(seller_client, add_review(app, seller),
                            files=[(whole[: len(whole) // 2], "cut.png")]))
        queue.empty()  # Redis lost the job
        result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
    assert result.exit_code == 0, result.output
    assert summary(result).startswith("0 stored, 1 could not be decoded")
    refusals = upload_refusals(caplog)
    assert [(event["seller_id"], event["processed_later"]) for event in refusals] == [
        (seller.id, True)]
    assert "“cut.png” is damaged" in refusals[0]["reason"]


def test_a_store_that_refuses_writes_leaves_the_file_processing_however_often_it_is_tried(
        app, seller, seller_client, runner, monkeypatch, large_from_one_pixel):
    """S3 down mid-job (the held file was read, the re-encoded one cannot be written): the decode
    finished, so the try does not count towards giving the file up, and the held bytes are kept
    for the run after the store is back."""
    with job_queue(app) as queue:
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        queue.empty()

    def refuse(self, name, data):
        raise StorageUnavailable(f"could not write {name}: the store is down")

    monkeypatch.setattr(backend_class(app), "write", refuse)
    for _ in range(processing.MAX_ATTEMPTS + 1):
        result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
        assert result.exit_code == 1 and "left processing (StorageUnavailable" in result.output
    [held] = uploads(app)
    assert (held.status, held.attempts) == (UploadStatus.PROCESSING, 0)
    assert held_names(app) == [held.held_name] and evidence(app) == []
    assert events(app, "evidence.failed") == []

    monkeypatch.undo()
    result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
    assert result.exit_code == 0 and summary(result).startswith("1 stored")
    assert uploads(app) == [] and held_names(app) == []
    assert [row.request_id for row in evidence(app)] == [request_id]


@local_storage_only
def test_a_held_file_the_disk_cannot_read_for_now_stays_processing_not_lost(
        app, seller, seller_client, runner, monkeypatch, large_from_one_pixel):
    """EIO on the held file is the disk's trouble: the upload is not marked lost (its bytes would
    then be swept as an orphan), the try is not counted, and the next run stores it."""
    with job_queue(app) as queue:
        request_id = submitted_id(submit(seller_client, add_review(app, seller)))
        queue.empty()
    fail_opening(monkeypatch, ".upload", errno.EIO)
    result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
    assert result.exit_code == 1 and "left processing (StorageUnavailable" in result.output
    [held] = uploads(app)
    assert (held.status, held.attempts) == (UploadStatus.PROCESSING, 0)
    assert held_names(app) == [held.held_name] and events(app, "evidence.failed") == []

    monkeypatch.undo()
    result = runner.invoke(args=["evidence", "process", "--older-than-seconds", "0"])
    assert result.exit_code == 0 and summary(result).startswith("1 stored")
    assert [row.request_id for row in evidence(app)] == [request_id]
