"""The export formats are a contract: the exact bytes of a small CSV and JSON Lines export are pinned
here (quoting, formula prefixes, non-ASCII, nested and non-text details, a details column stored in
another layout, a review that is gone), so a faster export cannot drift from them."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select

from moderation_app.extensions import db
from moderation_app.models import Review, Role
from moderation_app.models.audit import AuditEvent
from moderation_app.services.audit import export as export_module
from moderation_app.services.audit.export import AuditFilters, export_lines, neutralize
from moderation_app.services.audit.log import canonical_json, event_hash
from moderation_app.services.audit.postgres import content_hash
from tests.helpers.accounts import make_user
from tests.helpers.database import TEST_DATABASE_URL
from tests.helpers.marketplace import import_reviews, review_line

H = "ab" * 32  # any 64 characters: the export copies hashes, it does not check them (unique ones)
EVENTS = [
    ("ana@example.com", "agent", "request.decided", 5, True,
     canonical_json({"decision": "approve", "note": '=HYPERLINK("x"), ok', "status_after": "approved"})),
    ("zoë@example.com", "seller", "auth.login", None, False, canonical_json({"remote_addr": "10.0.0.1"})),
    ("bo@example.com", "agent", "request.decided", 7, False,
     canonical_json({"decision": "reject", "note": 'line one\nline "two", end\ttab \u0001 é€😀',
                     "ratings": {"b": 2, "a": 1.5, "c": [True, None, -0.0, 10**20]}})),
    ("-minus@example.com", "system", "+plus", None, False, "{}"),
    ("cy@example.com", "agent", "request.decided", 8, False,
     canonical_json({"decision": {"z": 1, "a": [True, None]}, "note": 3})),
    # Not the layout the app writes (spaces, keys unsorted): exported as the parsed value.
    ("di@example.com", "agent", "request.decided", None, False,
     '{"note": "@spaced",  "decision":"keep", "a":"\\u00e9"}'),
    ("ed@example.com", "agent", "request.released", 9, False, canonical_json({"note": "\r\n"})),
]

CSV = (
    'id,occurred_at,actor_email,actor_role,action,request_id,review_id,decision,note,details,prev_hash,hash\r\n'
    '1001,2001-02-03T04:00:06.000007Z,ana@example.com,agent,request.decided,5,R-9001,approve,"\'=HYPERLINK(""x""), ok","{""decision"": ""approve"", ""note"": ""=HYPERLINK(\\""x\\""), ok"", ""status_after"": ""approved""}",abababababababababababababababababababababababababababababababab,0000000000000000000000000000000000000000000000000000000000000000\r\n'
    '1002,2001-02-03T04:01:06.000000Z,zoë@example.com,seller,auth.login,,,,,"{""remote_addr"": ""10.0.0.1""}",abababababababababababababababababababababababababababababababab,0000000000000000000000000000000000000000000000000000000000000001\r\n'
    '1003,2001-02-03T04:02:06.000007Z,bo@example.com,agent,request.decided,7,,reject,"line one\n'
    'line ""two"", end\ttab \x01 é€😀","{""decision"": ""reject"", ""note"": ""line one\\nline \\""two\\"", end\\ttab \\u0001 é€😀"", ""ratings"": {""a"": 1.5, ""b"": 2, ""c"": [true, null, -0.0, 100000000000000000000]}}",abababababababababababababababababababababababababababababababab,0000000000000000000000000000000000000000000000000000000000000002\r\n'
    "1004,2001-02-03T04:03:06.000000Z,'-minus@example.com,system,'+plus,,,,,{},abababababababababababababababababababababababababababababababab,0000000000000000000000000000000000000000000000000000000000000003\r\n"
    '1005,2001-02-03T04:04:06.000007Z,cy@example.com,agent,request.decided,8,,"{\'a\': [True, None], \'z\': 1}",3,"{""decision"": {""a"": [true, null], ""z"": 1}, ""note"": 3}",abababababababababababababababababababababababababababababababab,0000000000000000000000000000000000000000000000000000000000000004\r\n'
    '1006,2001-02-03T04:05:06.000000Z,di@example.com,agent,request.decided,,,keep,\'@spaced,"{""a"": ""é"", ""decision"": ""keep"", ""note"": ""@spaced""}",abababababababababababababababababababababababababababababababab,0000000000000000000000000000000000000000000000000000000000000005\r\n'
    '1007,2001-02-03T04:06:06.000007Z,ed@example.com,agent,request.released,9,,,"\'\r\n'
    '","{""note"": ""\\r\\n""}",abababababababababababababababababababababababababababababababab,0000000000000000000000000000000000000000000000000000000000000006\r\n'
)
JSONL = (
    '{"id":1001,"occurred_at":"2001-02-03T04:00:06.000007Z","actor_email":"ana@example.com","actor_role":"agent","action":"request.decided","request_id":5,"review_id":"R-9001","decision":"approve","note":"=HYPERLINK(\\"x\\"), ok","details":{"decision":"approve","note":"=HYPERLINK(\\"x\\"), ok","status_after":"approved"},"prev_hash":"abababababababababababababababababababababababababababababababab","hash":"0000000000000000000000000000000000000000000000000000000000000000"}\n'
    '{"id":1002,"occurred_at":"2001-02-03T04:01:06.000000Z","actor_email":"zoë@example.com","actor_role":"seller","action":"auth.login","request_id":null,"review_id":null,"decision":null,"note":null,"details":{"remote_addr":"10.0.0.1"},"prev_hash":"abababababababababababababababababababababababababababababababab","hash":"0000000000000000000000000000000000000000000000000000000000000001"}\n'
    '{"id":1003,"occurred_at":"2001-02-03T04:02:06.000007Z","actor_email":"bo@example.com","actor_role":"agent","action":"request.decided","request_id":7,"review_id":null,"decision":"reject","note":"line one\\nline \\"two\\", end\\ttab \\u0001 é€😀","details":{"decision":"reject","note":"line one\\nline \\"two\\", end\\ttab \\u0001 é€😀","ratings":{"a":1.5,"b":2,"c":[true,null,-0.0,100000000000000000000]}},"prev_hash":"abababababababababababababababababababababababababababababababab","hash":"0000000000000000000000000000000000000000000000000000000000000002"}\n'
    '{"id":1004,"occurred_at":"2001-02-03T04:03:06.000000Z","actor_email":"-minus@example.com","actor_role":"system","action":"+plus","request_id":null,"review_id":null,"decision":null,"note":null,"details":{},"prev_hash":"abababababababababababababababababababababababababababababababab","hash":"0000000000000000000000000000000000000000000000000000000000000003"}\n'
    '{"id":1005,"occurred_at":"2001-02-03T04:04:06.000007Z","actor_email":"cy@example.com","actor_role":"agent","action":"request.decided","request_id":8,"review_id":null,"decision":{"a":[true,null],"z":1},"note":3,"details":{"decision":{"a":[true,null],"z":1},"note":3},"prev_hash":"abababababababababababababababababababababababababababababababab","hash":"0000000000000000000000000000000000000000000000000000000000000004"}\n'
    '{"id":1006,"occurred_at":"2001-02-03T04:05:06.000000Z","actor_email":"di@example.com","actor_role":"agent","action":"request.decided","request_id":null,"review_id":null,"decision":"keep","note":"@spaced","details":{"note":"@spaced","decision":"keep","a":"é"},"prev_hash":"abababababababababababababababababababababababababababababababab","hash":"0000000000000000000000000000000000000000000000000000000000000005"}\n'
    '{"id":1007,"occurred_at":"2001-02-03T04:06:06.000007Z","actor_email":"ed@example.com","actor_role":"agent","action":"request.released","request_id":9,"review_id":null,"decision":null,"note":"\\r\\n","details":{"note":"\\r\\n"},"prev_hash":"abababababababababababababababababababababababababababababababab","hash":"0000000000000000000000000000000000000000000000000000000000000006"}\n'
)


def _fill(app) -> None:
    seller = make_user(app, "seller@example.com", Role.SELLER)
    line = review_line(seller)
    line["review_id"] = "R-9001"
    import_reviews(app, [line])
    with app.app_context():
        review_id = db.session.scalar(select(Review.id).where(Review.external_id == "R-9001"))
        db.session.execute(insert(AuditEvent), [
            {"id": 1001 + number, "occurred_at": datetime(2001, 2, 3, 4, 5, 6, 7 * (number % 2 == 0),
                                                          tzinfo=UTC).replace(minute=number),
             "actor_id": None if number % 3 else number, "actor_email": email, "actor_role": role,
             "action": action, "request_id": request_id,
             "review_id": review_id if has_review else (None if number % 2 else 999_999),
             "details": details, "prev_hash": H, "hash": f"{number:064x}"}
            for number, (email, role, action, request_id, has_review, details) in enumerate(EVENTS)])
        db.session.commit()


def _export(app, fmt: str, filters: AuditFilters | None = None) -> tuple[str, int]:
    rows = [0]
    filters = filters or AuditFilters(since=date(2001, 1, 1), until=date(2001, 12, 31))
    with app.app_context():
        text = "".join(export_lines(db.session, filters, fmt, rows))
    return text, rows[0]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_is_byte_for_byte_the_pinned_format(app, fmt):
    _fill(app)

    text, rows = _export(app, fmt)

    assert rows == len(EVENTS)
    assert text == {"csv": CSV, "jsonl": JSONL}[fmt]


AWKWARD = ["a", '"', ",", "\r", "\n", " ", "\t", "'", "\\", "é", "\x00", "\u2028", "=", "-", "@"]


def test_csv_cells_are_what_csv_writer_writes_for_every_awkward_character():
    cells = ["".join(combo) for size in range(4) for combo in itertools.product(AWKWARD, repeat=size)]
    cells += [None, 7, -3, 1.5, True, {"a": '"x", y'}, ["=1"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for cell in cells:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralize("" if cell is None else cell), "x"])
        assert export_module._csv_text(cell) + ",x\r\n" == buffer.getvalue(), repr(cell)


# What PostgreSQL can hold of the awkward characters (it refuses NUL in text).
PG_AWKWARD = [char for char in AWKWARD if char != "\x00"] + ["\x01", "\x1f", "\x7f", "😀"]
AWKWARD_EVENTS = 1 + len(PG_AWKWARD) + len(PG_AWKWARD) ** 2  # every cell of 0 to 2 characters


def _awkward_chain(app) -> None:
    """A valid chain whose text columns hold every pair of awkward characters, one event dated
    year 999 (outside the times PostgreSQL formats) and details of every shape."""
    cells = ["".join(combo) for size in range(3) for combo in itertools.product(PG_AWKWARD, repeat=size)]
    details = [canonical_json({"decision": "x", "note": cells[5]}), canonical_json({"a": 1.5}), "{}",
               '{"note": "spaced",  "decision":"keep"}', canonical_json({"n": {"z": [1, None]}})]
    previous = "0" * 64
    rows = []
    for number, cell in enumerate(cells, start=1):
        event = SimpleNamespace(
            id=number, occurred_at=datetime(999 if number == 3 else 2024, 1, 2, 3, 4, 5, number,
                                            tzinfo=UTC),
            actor_id=number if number % 2 else None, actor_email=cell + "@x", actor_role=cell,
            action="a" + cell, request_id=number if number % 3 else None, review_id=None,
            details=details[number % len(details)], prev_hash=previous)
        event.hash = event_hash(event)
        previous = event.hash
        rows.append(vars(event))
    with app.app_context():
        db.session.execute(insert(AuditEvent), rows)
        db.session.commit()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL's own formatting")
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_postgresql_writes_every_line_as_python_does(app, fmt):
    _awkward_chain(app)
    line = {"csv": export_module._csv_line, "jsonl": export_module._jsonl_line}[fmt]

    exported, rows = _export(app, fmt, AuditFilters())

    with app.app_context():
        expected = "".join(line(db.session, row, False) for row in db.session.execute(
            export_module._export_query(AuditFilters(), "postgresql")))
    assert rows == AWKWARD_EVENTS
    assert exported.removeprefix(",".join(export_module.CSV_COLUMNS) + "\r\n") == expected


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL's own hashing")
def test_postgresql_hashes_every_event_as_event_hash_does(app, runner):
    _awkward_chain(app)

    with app.app_context():
        rows = db.session.execute(select(AuditEvent.__table__, content_hash().label("computed"))
                                  .order_by(AuditEvent.id)).all()
    # Event 3 is dated year 999: no hash from PostgreSQL; details in another layout are hashed as
    # stored (verify asks event_hash() for both).
    canonical = [row for row in rows if canonical_json(json.loads(row.details)) == row.details]
    assert [(row.id, row.computed) for row in canonical] == [
        (row.id, None if row.id == 3 else event_hash(row)) for row in canonical]
    assert len(canonical) > AWKWARD_EVENTS * 3 // 4
    assert runner.invoke(args=["audit", "verify"]).output.startswith(
        f"audit log ok: {AWKWARD_EVENTS} events")
