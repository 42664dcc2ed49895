"""The load test's checks (bench/load/checks.py) can fail: each is fed what a broken app would leave
in the database and must say so; fed a consistent run, each passes. The load test itself is
`make load` (minutes, two real servers), never part of the suite."""

from __future__ import annotations

from pathlib import Path

from bench.load import checks
from bench.load.browser import Ledger, Sample, Surprise, page_name
from bench.load.report import percentile
from bench.load.servers import EMBEDDED_SERVER_ARGS
from bench.load.workload import export_rows

TARGET = "target.agent@load.example.com"


def ledger(**facts: list) -> Ledger:
    book = Ledger()
    for kind, items in facts.items():
        for item in items:
            book.add(kind, item)
    return book


def decided(request_id: int, decision: str) -> tuple:
    return ("request.decided", request_id, "agent01@load.example.com", {"decision": decision})


def database(requests: dict[int, tuple[str, bool]], *events: tuple) -> checks.Database:
    submitted = [("request.submitted", number, "seller01@load.example.com", {}) for number in requests]
    return checks.Database(requests, [*submitted, *events])


def by_name(results: list[checks.Check]) -> dict[str, bool]:
    return {check.name: check.ok for check in results}


def test_a_consistent_run_passes_the_decision_checks():
    db = database({1: ("approved", True), 2: ("rejected", True), 3: ("submitted", False),
                   4: ("needs_info", False)},
                  decided(1, "approve"), decided(2, "reject"), decided(3, "request_info"),
                  ("request.evidence_added", 3, "seller01@load.example.com", {}), decided(4, "request_info"))
    book = ledger(decided=[(1, "approve"), (2, "reject"), (3, "request_info"), (4, "request_info")])
    assert all(by_name(checks.decisions(db, book)).values())


def test_a_request_decided_twice_fails():
    db = database({1: ("approved", True)}, decided(1, "approve"), decided(1, "reject"))
    results = by_name(checks.decisions(db, ledger(decided=[(1, "approve")])))
    assert not results["every request decided at most once"]
    assert not results["exactly one request.decided event per final decision"]
    assert not results["decisions the agents were told of = decisions recorded"]


def test_a_decision_without_its_event_fails():
    db = database({1: ("rejected", True)})
    results = by_name(checks.decisions(db, ledger(decided=[(1, "reject")])))
    assert not results["exactly one request.decided event per final decision"]


def test_an_event_for_a_decision_that_did_not_stick_fails():
    db = database({1: ("submitted", False)}, decided(1, "approve"))
    assert not by_name(checks.decisions(db, ledger()))["exactly one request.decided event per final decision"]


def test_a_question_without_its_event_fails():
    db = database({1: ("needs_info", False)})
    assert not by_name(checks.decisions(db, ledger()))["one request_info event per question asked"]


def test_sign_ins_must_match_their_events():
    db = database({}, ("auth.login", None, "a@load.example.com", {}))
    assert by_name(checks.sign_ins(db, ledger(sign_in=["a@load.example.com"])))[
        "one auth.login per successful sign-in"]
    assert not by_name(checks.sign_ins(db, ledger(sign_in=["a@load.example.com"] * 2)))[
        "one auth.login per successful sign-in"]
    survived = ledger(sign_in=["a@load.example.com"], session_after_failed_sign_in=["b@load.example.com"])
    assert not by_name(checks.sign_ins(db, survived))["one auth.login per successful sign-in"]


def test_the_attacker_must_get_exactly_ten_password_checks():
    def run(events: int, seen: int) -> bool:
        db = database({}, *[("auth.login_failed", None, TARGET, {})] * events)
        return checks.throttle(db, ledger(attacker_checked=[0] * seen, attacker_refused=[0]), TARGET).ok

    assert run(10, 10)
    assert not run(13, 13)  # the throttle let a race through
    assert not run(10, 9)


def test_an_export_cut_short_or_unrecorded_fails():
    recorded = ("audit.exported", None, "manager1@load.example.com",
                {"format": "csv", "rows": 5, "completed": True})
    whole = ledger(export=[("manager1@load.example.com", "csv", 5)])
    assert checks.exports(database({}, recorded), whole).ok
    assert not checks.exports(database({}), whole).ok
    cut = ledger(export_cut_short=[("manager1@load.example.com", "csv", 100)])
    assert not checks.exports(database({}), cut).ok


def test_a_server_error_or_a_dropped_connection_fails():
    assert checks.no_server_errors([Sample("GET /queue", 200, 0.1)]).ok
    assert not checks.no_server_errors([Sample("GET /queue", 500, 0.1)]).ok
    assert not checks.no_server_errors([Sample("GET /queue", "ConnectionError", 0.1)]).ok


def test_an_unexpected_refusal_fails():
    book = ledger(surprise=[Surprise("seller01@load.example.com", "POST /login", 429, "Too many attempts")])
    assert not checks.no_surprises(book).ok


def test_a_run_that_did_nothing_fails():
    assert not checks.workload_ran(ledger(sign_in=["a"]), people=1).ok


def test_a_truncated_export_is_told_from_a_whole_one():
    assert export_rows("jsonl", '{"hash": "a"}\n{"hash": "b"}\n') == 2
    assert export_rows("jsonl", '{"hash": "a"}\n{"hash"') is None
    assert export_rows("csv", "id,occurred_at,x\n1,2,3\n") == 1
    assert export_rows("csv", "id,occurred_at,x\n1,2\n") is None


def test_pages_are_named_without_their_ids():
    assert page_name("POST", "/requests/17/decision") == "POST /requests/<id>/decision"
    assert page_name("GET", "/seller/reviews/LR-01-002/deletion-request?x=1") == \
        "GET /seller/reviews/<review>/deletion-request"


def test_percentiles_use_the_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (50, 95, 99)


def test_the_load_test_serves_sqlite_exactly_as_make_run_does():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    (line,) = [line for line in makefile.splitlines() if line.startswith("EMBEDDED_SERVER_ARGS")]
    assert tuple(line.split("=", 1)[1].split()) == EMBEDDED_SERVER_ARGS
    assert "$(EMBEDDED_SERVER_ARGS)" in makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
