"""Property-based tests (Hypothesis): arbitrary text, numbers and files sent to every form and
every query filter never make the desk answer 500 (nor anything >= 500), and a refused POST
changes nothing.

Fixtures are function-scoped, so one app and database serve all examples of a test: each example
either works on a fresh row or first puts back the row it uses, and asserts only what holds whatever
earlier examples left behind. The inputs of the 500s these properties found are kept as plain
regressions at the end."""

from __future__ import annotations

import base64
import io
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlsplit

import pytest
from flask import Flask
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select, update

from moderation_app.extensions import db
from moderation_app.models import DeletionRequest, RequestMessage, RequestStatus
from moderation_app.models.requests import Reason
from moderation_app.services.keyset import encode_cursor
from moderation_app.services.requests.decisions import NEW_STATUS, Decision
from tests.helpers.accounts import PASSWORD
from tests.helpers.clients import FormClient
from tests.helpers.images import image_bytes, picture
from tests.helpers.marketplace import add_review
from tests.helpers.requests import EXPLANATION, add_request, set_request_status
from tests.helpers.stored import request_state, row_counts, stored_files

pytestmark = pytest.mark.properties

# Reproducible in CI: examples derive from each test, and nothing is saved to .hypothesis/.
FORMS = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                        HealthCheck.data_too_large])

# Small limits, so oversized files and bodies are cheap to generate. MAX_FORM_MEMORY_SIZE keeps its
# real value: Werkzeug feeds its multipart decoder 64 kB at a time and checks buffer plus chunk
# against that cap, so a cap near 64 kB refuses ordinary file uploads halfway (and leaves the
# files parsed so far unclosed).
SMALL_LIMITS = {
    "EVIDENCE_MAX_FILE_BYTES": 48 * 1024,
    "EVIDENCE_MAX_TOTAL_BYTES": 96 * 1024,
    "EVIDENCE_MAX_FILES": 3,
    "EVIDENCE_MAX_PIXELS": 20_000,
    "MAX_CONTENT_LENGTH": 160 * 1024,
    # Accepted filings accumulate across examples; the daily quota is tested elsewhere.
    "EVIDENCE_DAILY_QUOTA": 100_000,
    "LOGIN_LIMIT_PER_ADDRESS": "100000 per 15 minutes",
}
# Stands for the page's real CSRF token in examples (a fixture cannot appear in @example).
TOKEN = "<the page's token>"


# --- strategies --------------------------------------------------------------------------------

# What people and scripts actually try: NUL, controls, bidi overrides, digits int() refuses though
# str.isdigit() accepts them, numbers past 32 and 64 bits, markup, paths, near-valid dates.
TRICKY = [
    "", " ", "\x00", "a\x00b", "\x00" * 40, "\r\n", "\t", "\x7f", "\x1b[31m", "\u202egnp.exe",
    "\ufeff", "\u2028", "²", "١٢٣", "𝟗", "0", "-1", "+1", "1_000", "1e309", "NaN", "0x1f",
    "9" * 30, str(2**31), str(2**63), str(-(2**63) - 1), "%00", "%", "'; DROP TABLE users; --",
    "<script>", "{{ 7 * 7 }}", "../../etc/passwd", "C:\\boot.ini", "😀" * 10, "#1", "2026-02-30",
    "2026-13-01", "99999-01-01", "0001-01-01", "2026-05-04T12:00", "approve", "open", "me",
]
BOUNDARY_NUMBERS = [0, 1, -1, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64]


def long_texts() -> st.SearchStrategy[str]:
    # Built by repetition: past every length limit, without Hypothesis generating (and shrinking)
    # it character by character. At most 80 kB in UTF-8: the test client spools a body over 500 kB
    # to a temporary file it never closes (a ResourceWarning, which fails this suite).
    return st.builds(lambda chunk, times: (chunk * times)[:20_000],
                     st.text(min_size=1, max_size=4), st.integers(1000, 20_000))


def texts(max_size: int = 200, long: bool = True) -> st.SearchStrategy[str]:
    """Any text without surrogates (a form cannot carry them), NUL and control characters included;
    the tricky values twice, so they come up often in a short run."""
    tricky = st.sampled_from(TRICKY)
    options = [tricky, tricky, st.text(max_size=max_size),
               st.text(st.characters(max_codepoint=0x7f), max_size=max_size)]
    return st.one_of(*options, long_texts()) if long else st.one_of(*options)


def numbers() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(BOUNDARY_NUMBERS), st.integers(-5, 50),
                     st.integers(-(2**80), 2**80))


def often(likely: st.SearchStrategy, other: st.SearchStrategy,
          weight: int = 3) -> st.SearchStrategy:
    """`likely` about `weight` times as often as `other` (one_of() picks its branches evenly)."""
    return st.sampled_from([True] * weight + [False]).flatmap(
        lambda pick: likely if pick else other)


def choice_or_text(values: list[str]) -> st.SearchStrategy[str]:
    """Mostly a valid choice, so examples get past this field to the next one."""
    return often(st.sampled_from(values), st.one_of(texts(40), numbers().map(str)))


# A browser percent-escapes quotes and line breaks in field and file names (HTML's multipart
# rules); the test client does not, and such a name corrupts the request instead of testing the app
# (Werkzeug then drops the half-parsed files unclosed: ResourceWarnings, which fail this suite).
NAME_CHARACTERS = st.characters(codec="utf-8", exclude_characters='"\r\n')


def extra_fields() -> st.SearchStrategy[dict[str, str]]:
    """Fields the form does not have, including ones named like columns."""
    names = st.one_of(st.sampled_from(["status", "seller_id", "review_id", "version", "assignee_id",
                                       "decided_by_id", "id", "next"]),
                      st.text(NAME_CHARACTERS, max_size=12))
    return st.dictionaries(names.filter(lambda name: name != "csrf_token"),
                           texts(40, long=False), max_size=3)


def csrf_tokens() -> st.SearchStrategy[str | None]:
    """Mostly the real token; sometimes none, or garbage (a 400 that must change nothing)."""
    return often(st.just(TOKEN), st.one_of(st.none(), texts(60, long=False)), weight=5)


MODES = ["RGB", "RGBA", "L", "LA", "P", "PA", "1", "CMYK", "I", "I;16", "F", "YCbCr", "HSV"]
FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "ICO", "PPM"]


@st.composite
def images(draw: st.DrawFn) -> bytes:
    """A real image file: random size, mode and format, maybe animated, maybe with an EXIF
    orientation (valid or not), maybe cut short."""
    size = (draw(st.integers(1, 200)), draw(st.integers(1, 200)))
    mode, fmt = draw(st.sampled_from(MODES)), draw(st.sampled_from(FORMATS))
    seed = draw(st.integers(0, 2**16))
    if draw(st.booleans()):
        frame = picture(size, seed)
    else:  # noise: incompressible, so sizes near the byte limits come up
        frame = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    frames = [frame.convert(mode)] + [picture(size, seed + n).convert(mode)
                                      for n in range(draw(st.integers(0, 2)))]
    params: dict[str, Any] = {}
    if draw(st.booleans()):
        exif = Image.Exif()
        exif[0x0112] = draw(st.integers(0, 12))  # orientation; only 1-8 are defined
        params["exif"] = exif.tobytes()
    if len(frames) > 1:
        params.update(save_all=True, append_images=frames[1:])
    data = _save(frames, fmt, params)
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return data


def _save(frames: list[Image.Image], fmt: str, params: dict[str, Any]) -> bytes:
    """Saves in `fmt`, dropping what the format cannot hold (the mode, then the extras)."""
    attempts = [(frames, params), ([frame.convert("RGB") for frame in frames], params),
                ([frames[0].convert("RGB")], {})]
    for attempt_frames, attempt_params in attempts:
        buffer = io.BytesIO()
        try:
            attempt_frames[0].save(buffer, fmt, **attempt_params)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return buffer.getvalue()
    raise AssertionError(f"Pillow cannot write {fmt} at all")


def file_bytes() -> st.SearchStrategy[bytes]:
    signatures = st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF",
                                  b"BM", b"<svg", b"%PDF-", b"PK\x03\x04", b""])
    return st.one_of(
        images(),
        st.binary(max_size=512),
        st.builds(lambda head, tail: head + tail, signatures, st.binary(max_size=256)),
        # Past the per-file limit of SMALL_LIMITS.
        st.integers(0, 2**16).map(lambda seed: random.Random(seed).randbytes(50 * 1024)),
    )


def filenames() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["chat.png", "shot.jpg", "a.svg", "../../x.png", "x.php.png",
                                      "\u202egnp.exe", "C:\\Users\\me\\chat.png", ""]),
                     st.text(NAME_CHARACTERS, max_size=60))


@st.composite
def screenshots(draw: st.DrawFn) -> bytes:
    """An image the desk accepts (a format it reads, inside the pixel and byte limits)."""
    size = (draw(st.integers(16, 140)), draw(st.integers(16, 140)))
    mode = draw(st.sampled_from(["RGB", "RGBA", "L", "P"]))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "WEBP", "GIF"]))
    return _save([picture(size, draw(st.integers(0, 2**16))).convert(mode)], fmt, {})


def uploads() -> st.SearchStrategy[list[tuple[bytes, str, str]]]:
    content_types = st.sampled_from(["image/png", "image/jpeg", "text/html", "image/svg+xml",
                                     "application/octet-stream"])
    acceptable = st.lists(st.tuples(screenshots(), filenames(), content_types),
                          min_size=1, max_size=2)
    anything = st.lists(st.tuples(file_bytes(), filenames(), content_types), max_size=4)
    # Bodies stay under the test client's 500 kB (see long_texts); over 160 kB is refused anyway.
    return often(acceptable, anything, weight=2).filter(
        lambda files: sum(len(data) for data, _, _ in files) <= 320 * 1024)


# --- helpers -----------------------------------------------------------------------------------

def assert_no_server_error(response) -> None:
    # Counted per test in --hypothesis-show-statistics: which answers the examples reached.
    event(f"HTTP {response.status_code}")
    # The error page shows an id; the traceback is in the captured log.
    assert response.status_code < 500, response.get_data(as_text=True)[-600:]


def form(csrf: str | None, token: str, fields: dict[str, Any]) -> dict[str, Any]:
    data = {name: value for name, value in fields.items() if value is not None}
    if csrf is not None:
        data["csrf_token"] = token if csrf == TOKEN else csrf
    return data


def file_parts(files: list[tuple[bytes, str, str]]) -> list[tuple[io.BytesIO, str, str]]:
    return [(io.BytesIO(data), name, content_type) for data, name, content_type in files]


def stored(app: Flask) -> tuple[dict[str, int], list[str]]:
    """What a refused POST must leave as it was: the rows it would write, and files on disk."""
    return row_counts(app), stored_files(app)


def messages_on(app: Flask, request_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RequestMessage)
                                 .where(RequestMessage.request_id == request_id))


def held_request(app: Flask, seller, agent) -> int:
    """An open request on a fresh review, claimed by `agent` for the next hour."""
    request_id = add_request(app, seller, add_review(app, seller))
    with app.app_context():
        db.session.execute(update(DeletionRequest).where(DeletionRequest.id == request_id).values(
            assignee_id=agent.id, lease_expires_at=datetime.now(UTC) + timedelta(hours=1)))
        db.session.commit()
    return request_id


def review_visible(app: Flask, request_id: int) -> bool:
    with app.app_context():
        return db.session.get(DeletionRequest, request_id).review.is_visible


# Fixtures run once per test, not per example: one CSRF token, one shared row per test.

@pytest.fixture
def small_limits(app: Flask) -> Flask:
    app.config.update(SMALL_LIMITS)
    return app


@pytest.fixture
def anonymous_token(client: FormClient) -> str:
    return client.csrf_token()


@pytest.fixture
def seller_token(seller_client: FormClient) -> str:
    return seller_client.csrf_token()


@pytest.fixture
def agent_token(agent_client: FormClient) -> str:
    return agent_client.csrf_token()


@pytest.fixture
def open_request(small_limits: Flask, seller) -> int:
    return add_request(small_limits, seller, add_review(small_limits, seller))


@pytest.fixture
def closed_request(small_limits: Flask, seller) -> int:
    return add_request(small_limits, seller, add_review(small_limits, seller),
                       status=RequestStatus.APPROVED)


@pytest.fixture
def agents_request(small_limits: Flask, seller, agent) -> int:
    return held_request(small_limits, seller, agent)


# --- login ---------------------------------------------------------------------------------------

@settings(FORMS, max_examples=50)
@given(email=texts(), password=texts(), extra=extra_fields(), csrf=csrf_tokens())
def test_login_form_never_fails_with_arbitrary_input(small_limits, client, anonymous_token, seller,
                                                     email, password, extra, csrf):
    response = client.post("/login", data=form(csrf, anonymous_token,
                                               {**extra, "email": email, "password": password}))

    assert_no_server_error(response)
    assert response.status_code in (200, 400, 413, 429)
    assert client.get("/seller/reviews").status_code == 302  # still signed out


@settings(FORMS, max_examples=10)  # each example signs in: a real password hash check
@given(target=st.one_of(texts(), st.sampled_from(["//evil.example", "/\\evil.example",
                                                   "https://evil.example/", "/\t/evil.example",
                                                   "/seller/requests?status=open", "/%0d%0aX:1"])))
@example(target="/\r\nSet-Cookie: x=1")
def test_login_redirects_only_to_a_local_path_whatever_next_says(app, seller, target):
    client = app.test_client()  # signed out for every example

    response = client.post(f"/login?next={quote(target, safe='')}",
                           data={"csrf_token": client.csrf_token(), "email": seller.email,
                                 "password": PASSWORD})

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert not location.scheme and not location.netloc
    assert response.location.startswith("/") and not response.location.startswith("//")


# --- the seller's forms --------------------------------------------------------------------------

@settings(FORMS, max_examples=50)
@given(reason=choice_or_text([reason.value for reason in Reason]),
       explanation=often(st.just(EXPLANATION), texts(), weight=2),
       files=uploads(), extra=extra_fields(), csrf=csrf_tokens())
@example(reason="wrong_offer", explanation=EXPLANATION, extra={}, csrf=TOKEN,
         files=[(image_bytes("PNG"), "chat.png", "image/png")])
@example(reason="wrong_offer", explanation=EXPLANATION + "\x00", extra={}, csrf=TOKEN,
         files=[(image_bytes("PNG"), "chat.png", "image/png")])  # was a 500 on PostgreSQL
def test_deletion_request_form_never_fails_and_a_refusal_stores_nothing(
        small_limits, seller, seller_client, seller_token, reason, explanation, files, extra, csrf):
    app = small_limits
    review_id = add_review(app, seller)  # fresh, so an earlier example's filing cannot interfere
    before = stored(app)

    response = seller_client.post(
        f"/seller/reviews/{review_id}/deletion-request", content_type="multipart/form-data",
        data=form(csrf, seller_token, {**extra, "reason": reason, "explanation": explanation,
                                       "evidence": file_parts(files)}))

    assert_no_server_error(response)
    if response.status_code == 303:
        counts, _ = stored(app)
        assert counts["requests"] == before[0]["requests"] + 1
        assert counts["evidence"] - before[0]["evidence"] in range(1, len(files) + 1)
    else:
        assert response.status_code in (400, 413, 422)
        assert stored(app) == before


@settings(FORMS, max_examples=40)
@given(message=st.one_of(st.just("Here is the chat."), texts()), files=uploads(),
       extra=extra_fields(), csrf=csrf_tokens())
@example(message="\x00", files=[], extra={}, csrf=TOKEN)  # was a 500 on PostgreSQL
def test_answer_form_never_fails_and_a_refusal_changes_nothing(
        small_limits, seller_client, seller_token, open_request, message, files, extra, csrf):
    app, request_id = small_limits, open_request
    set_request_status(app, request_id, RequestStatus.NEEDS_INFO)  # a question waits, every time
    before, state_before = stored(app), request_state(app, request_id)

    response = seller_client.post(
        f"/seller/requests/{request_id}/evidence", content_type="multipart/form-data",
        data=form(csrf, seller_token, {**extra, "message": message,
                                       "evidence": file_parts(files)}))

    assert_no_server_error(response)
    if response.status_code == 303:
        assert request_state(app, request_id)["status"] is RequestStatus.SUBMITTED
        assert stored(app)[0]["messages"] == before[0]["messages"] + 1
    else:
        assert response.status_code in (400, 413, 422)
        assert stored(app) == before
        assert request_state(app, request_id) == state_before


@settings(FORMS, max_examples=30)
@given(reason=texts(), extra=extra_fields(), csrf=csrf_tokens())
@example(reason="\x00", extra={}, csrf=TOKEN)  # was a 500 on PostgreSQL
def test_withdraw_form_never_fails_and_a_refusal_changes_nothing(
        small_limits, seller_client, seller_token, open_request, reason, extra, csrf):
    app, request_id = small_limits, open_request
    set_request_status(app, request_id, RequestStatus.SUBMITTED)  # open again for each example
    before, state_before = stored(app), request_state(app, request_id)

    response = seller_client.post(f"/seller/requests/{request_id}/withdraw",
                                  data=form(csrf, seller_token, {**extra, "reason": reason}))

    assert_no_server_error(response)
    if response.status_code == 303:
        assert request_state(app, request_id)["status"] is RequestStatus.WITHDRAWN
    else:
        assert response.status_code in (400, 413, 422)
        assert stored(app) == before
        assert request_state(app, request_id) == state_before


# --- the staff's forms ---------------------------------------------------------------------------

@settings(FORMS, max_examples=35)
@given(decision=choice_or_text([decision.value for decision in Decision]),
       note=often(st.just("Fits the policy."), texts(), weight=1),
       internal_note=texts(), and_next=st.booleans(), extra=extra_fields(), csrf=csrf_tokens())
@example(decision="approve", note="Fits.", internal_note="", and_next=False, extra={}, csrf=TOKEN)
# These two were 500s on PostgreSQL.
@example(decision="approve", note="\x00", internal_note="", and_next=False, extra={}, csrf=TOKEN)
@example(decision="reject", note="No.", internal_note="\x00", and_next=True, extra={}, csrf=TOKEN)
def test_decision_form_never_fails_and_a_refusal_changes_nothing(
        small_limits, seller, agent, agent_client, agent_token, decision, note, internal_note,
        and_next, extra, csrf):
    app = small_limits
    request_id = held_request(app, seller, agent)
    before, state_before = stored(app), request_state(app, request_id)

    response = agent_client.post(f"/requests/{request_id}/decision", data=form(csrf, agent_token, {
        **extra, "decision": decision, "note": note, "internal_note": internal_note,
        "submit_and_next" if and_next else "submit": "y"}))

    assert_no_server_error(response)
    if response.status_code == 303:
        # The agent holds it and the form was valid: the decision is recorded.
        assert request_state(app, request_id)["status"] is NEW_STATUS[Decision(decision)]
        assert review_visible(app, request_id) is (decision != Decision.APPROVE)
    else:
        assert response.status_code in (400, 413, 422)
        assert stored(app) == before
        assert request_state(app, request_id) == state_before
        assert review_visible(app, request_id)


@settings(FORMS, max_examples=30)
@given(note=texts(), extra=extra_fields(), csrf=csrf_tokens())
@example(note="\x00", extra={}, csrf=TOKEN)  # was a 500 on PostgreSQL
def test_internal_note_form_never_fails_and_a_refusal_changes_nothing(
        small_limits, agent_client, agent_token, agents_request, note, extra, csrf):
    app, request_id = small_limits, agents_request
    before = messages_on(app, request_id), request_state(app, request_id)["status"]

    response = agent_client.post(f"/requests/{request_id}/notes",
                                 data=form(csrf, agent_token, {**extra, "note": note}))

    assert_no_server_error(response)
    after = messages_on(app, request_id), request_state(app, request_id)["status"]
    if response.status_code == 303:
        assert after == (before[0] + 1, before[1])
    else:
        assert response.status_code in (400, 413, 422)
        assert after == before


@settings(FORMS, max_examples=25)
@given(action=st.sampled_from(["claim", "release"]), which=st.sampled_from(["open", "closed"]),
       extra=extra_fields(), csrf=csrf_tokens())
def test_claim_release_and_take_next_never_fail(small_limits, agent_client, agent_token,
                                                open_request, closed_request, action, which,
                                                extra, csrf):
    request_id = open_request if which == "open" else closed_request

    response = agent_client.post(f"/requests/{request_id}/{action}",
                                 data=form(csrf, agent_token, extra))
    assert_no_server_error(response)
    assert response.status_code in (303, 400, 413)
    assert request_state(small_limits, closed_request)["status"] is RequestStatus.APPROVED

    response = agent_client.post("/queue/next", data=form(csrf, agent_token, extra))
    assert_no_server_error(response)
    assert response.status_code in (303, 400, 413)


# --- ids in paths --------------------------------------------------------------------------------

SELLER_GETS = ["/seller/requests/{}", "/seller/requests/{}/withdraw"]
SELLER_POSTS = ["/seller/requests/{}/withdraw", "/seller/requests/{}/evidence"]
STAFF_GETS = ["/requests/{}"]
STAFF_POSTS = ["/requests/{}/claim", "/requests/{}/release", "/requests/{}/notes",
               "/requests/{}/decision"]
EVIDENCE_GETS = ["/evidence/{}", "/evidence/{}/thumbnail"]


@settings(FORMS, max_examples=20)
@given(number=numbers())
@example(number=2**31)  # was a 500 on PostgreSQL (INTEGER out of range)
@example(number=2**63)  # was a 500 on SQLite (OverflowError) and PostgreSQL
def test_any_number_in_a_path_answers_without_error(seller_client, seller_token, agent_client,
                                                    agent_token, number):
    for path in SELLER_GETS:
        assert_no_server_error(seller_client.get(path.format(number)))
    for path in SELLER_POSTS:
        assert_no_server_error(seller_client.post(path.format(number),
                                                  data={"csrf_token": seller_token}))
    for path in STAFF_GETS:
        assert_no_server_error(agent_client.get(path.format(number)))
    for path in STAFF_POSTS:
        assert_no_server_error(agent_client.post(path.format(number),
                                                 data={"csrf_token": agent_token}))
    for path in EVIDENCE_GETS:
        assert_no_server_error(agent_client.get(path.format(number)))


@settings(FORMS, max_examples=25)
@given(review_id=texts(60, long=False))
@example(review_id="\x00")  # was a 500 on PostgreSQL
def test_any_review_id_in_the_filing_path_answers_without_error(seller_client, seller_token,
                                                                review_id):
    path = f"/seller/reviews/{quote(review_id, safe='')}/deletion-request"

    assert_no_server_error(seller_client.get(path))
    assert_no_server_error(seller_client.post(path, data={"csrf_token": seller_token}))


# --- query filters -------------------------------------------------------------------------------

def cursors() -> st.SearchStrategy[str]:
    """Real cursors (any moment, any id), cursors of other shapes, and plain junk."""
    real = st.builds(lambda moment, number: encode_cursor(moment, abs(number)),
                     st.datetimes(timezones=st.just(UTC)), numbers())
    forged = st.binary(max_size=90).map(lambda raw: base64.urlsafe_b64encode(raw).decode())
    return st.one_of(real, forged, texts(140, long=False))


def query_params(names: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional=names)


def raw_query_strings(names: list[str]) -> st.SearchStrategy[str]:
    """Query strings as bytes on the wire: bad percent-escapes, invalid UTF-8, repeated keys."""
    pair = st.tuples(st.sampled_from(names), st.binary(max_size=40)).map(
        lambda item: f"{item[0]}={quote_from_bytes(item[1])}")
    junk = st.sampled_from(["%", "%G0", "%FF%FE", "=", "&&", "a=%00", ";", "%C0%AE%C0%AE"])
    return st.lists(st.one_of(pair, junk), max_size=6).map("&".join)


@pytest.fixture
def busy_queue(small_limits: Flask, seller, agent) -> Flask:
    """Requests in every status and a page size of two, so filters and cursors find rows."""
    app = small_limits
    app.config["PAGE_SIZE"] = 2
    for status in RequestStatus:
        for _ in range(3):
            add_request(app, seller, add_review(app, seller), status=status)
    held_request(app, seller, agent)
    return app


QUEUE_PARAMS = {
    "reason": choice_or_text([reason.value for reason in Reason]),
    "status": choice_or_text([status.value for status in RequestStatus]),
    "assignee": choice_or_text(["any", "me", "unassigned"]),
    "seller": st.one_of(st.just("seller@"), texts()),
    "after": cursors(),
}


@settings(FORMS, max_examples=50)
@given(params=query_params(QUEUE_PARAMS), raw=raw_query_strings(list(QUEUE_PARAMS)))
# A well-formed cursor past any row's id: was a 500 on PostgreSQL.
@example(params={"after": encode_cursor(datetime(2026, 5, 4, tzinfo=UTC), 2**31)}, raw="")
def test_queue_filters_and_cursors_never_fail(busy_queue, agent_client, params, raw):
    assert_no_server_error(agent_client.get("/queue", query_string=params))
    assert_no_server_error(agent_client.get(f"/queue?{raw}"))


def days() -> st.SearchStrategy[str]:
    return st.one_of(st.dates().map(lambda day: day.isoformat()), texts(30, long=False))


AUDIT_PARAMS = {
    "since": days(), "until": days(), "actor": st.one_of(st.just("agent@example.com"), texts()),
    "action": st.one_of(st.sampled_from(["auth.login", "request.decided"]), texts()),
    "request": st.one_of(numbers().map(str), numbers().map(lambda n: f"#{n}"), texts(30)),
    "before": st.one_of(numbers().map(str), texts(30, long=False)),
}


@settings(FORMS, max_examples=40)
@given(params=query_params(AUDIT_PARAMS), raw=raw_query_strings(list(AUDIT_PARAMS)),
       export=st.sampled_from(["/audit/export.csv", "/audit/export.jsonl"]))
def test_audit_filters_and_exports_never_fail(busy_queue, manager_client, params, raw, export):
    for url in ("/audit", export):
        response = manager_client.get(url, query_string=params)
        # An export streams: its body, and the audit event written after it, must not fail either.
        response.get_data()
        assert_no_server_error(response)
    assert_no_server_error(manager_client.get(f"/audit?{raw}"))


SELLER_LIST_PARAMS = {
    "status": choice_or_text(["all", "open", "closed"]),
    "page": numbers().map(str) | texts(20, long=False),
    "per_page": numbers().map(str) | texts(20, long=False),
}


@settings(FORMS, max_examples=40)
@given(params=query_params(SELLER_LIST_PARAMS), raw=raw_query_strings(list(SELLER_LIST_PARAMS)),
       url=st.sampled_from(["/seller/requests", "/seller/reviews"]))
# A page whose row offset overflows: was a 500 on SQLite and PostgreSQL.
@example(params={"page": str(2**62)}, raw="", url="/seller/requests")
@example(params={"page": str(2**63)}, raw="", url="/seller/reviews")
def test_seller_lists_and_their_pages_never_fail(busy_queue, seller_client, params, raw, url):
    assert_no_server_error(seller_client.get(url, query_string=params))
    assert_no_server_error(seller_client.get(f"{url}?{raw}"))


# --- 500s these properties found, kept as plain regressions ---------------------------------------

FOUND = [
    # (who, method, url, data, the database it failed on)
    pytest.param("anonymous", "POST", "/login", {"email": "\x00", "password": "x"}, "postgresql",
                 id="login-email-with-NUL"),
    pytest.param("manager", "GET", "/audit?request=%C2%B2", None, "both",
                 id="audit-request-superscript-2"),
    pytest.param("manager", "GET", "/audit/export.csv?request=%C2%B2", None, "both",
                 id="audit-export-request-superscript-2"),
    pytest.param("manager", "GET", f"/audit?request={2**31}", None, "postgresql",
                 id="audit-request-2^31"),
    pytest.param("manager", "GET", f"/audit?before={2**63}", None, "both", id="audit-before-2^63"),
    pytest.param("manager", "GET", "/audit?actor=%00", None, "postgresql", id="audit-actor-NUL"),
    pytest.param("manager", "GET", "/audit?action=%00", None, "postgresql", id="audit-action-NUL"),
    pytest.param("manager", "GET", "/audit/export.jsonl?actor=%00", None, "postgresql",
                 id="audit-export-actor-NUL"),
    pytest.param("agent", "GET", f"/evidence/{2**31}", None, "postgresql", id="evidence-2^31"),
    pytest.param("agent", "GET", f"/evidence/{2**63}", None, "both", id="evidence-2^63"),
    pytest.param("manager", "GET", "/audit?until=9999-12-31", None, "both", id="audit-until-last-day"),
    pytest.param("manager", "GET", "/audit/export.csv?until=9999-12-31", None, "both",
                 id="audit-export-until-last-day"),
    pytest.param("manager", "GET", "/audit/export.jsonl?since=0001-01-01&until=9999-12-31", None,
                 "both", id="audit-export-first-and-last-days"),
]


@pytest.mark.parametrize(("who", "method", "url", "data", "failed_on"), FOUND)
def test_inputs_that_once_gave_500s_now_answer_cleanly(request, app, who, method, url, data,
                                                       failed_on):
    client = app.test_client() if who == "anonymous" else request.getfixturevalue(f"{who}_client")
    if method == "POST":
        response = client.post(url, data={"csrf_token": client.csrf_token(), **data})
    else:
        response = client.get(url)
        response.get_data()  # an export fails while streaming

    assert response.status_code < 500
