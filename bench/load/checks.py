"""After a run: what the harness saw, held against the database (read directly, with plain SQL, not
through the app) and against `flask audit verify`. Each check passes or says what it found."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import create_engine, text

from bench.load.browser import Ledger, Sample
from bench.load.servers import flask_cli

FINAL = {"approve": "approved", "reject": "rejected"}
# LOGIN_LIMIT_PER_ACCOUNT ("10 per 15 minutes"): a run is far shorter than one window.
PASSWORD_CHECKS_PER_WINDOW = 10


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _listing(counter: Counter, limit: int = 8) -> str:
    items = [f"{key} x{count}" for key, count in counter.most_common(limit)]
    more = len(counter) - limit
    return "; ".join(items) + (f"; and {more} more" if more > 0 else "")


@dataclass
class Database:
    """The rows the checks need, read once after the server stopped."""

    requests: dict[int, tuple[str, bool]]  # id -> (status, decided_at is set)
    events: list[tuple[str, int | None, str, dict]]  # action, request id, actor email, details

    @classmethod
    def read(cls, url: str) -> Database:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                requests = {row.id: (row.status, row.decided_at is not None) for row in connection.execute(
                    text("SELECT id, status, decided_at FROM deletion_requests"))}
                events = [(row.action, row.request_id, row.actor_email, json.loads(row.details))
                          for row in connection.execute(text(
                              "SELECT action, request_id, actor_email, details FROM audit_events ORDER BY id"))]
        finally:
            engine.dispose()
        return cls(requests, events)

    def of(self, action: str) -> list[tuple[str, int | None, str, dict]]:
        return [event for event in self.events if event[0] == action]


def no_server_errors(samples: list[Sample]) -> Check:
    failures = Counter(f"{sample.page} -> {sample.status}" for sample in samples
                       if not isinstance(sample.status, int) or sample.status >= 500)
    return Check("zero 5xx (and no dropped connections)", not failures,
                 f"{sum(failures.values())} failed: {_listing(failures)}" if failures
                 else f"{len(samples)} responses, none 5xx")


def no_surprises(ledger: Ledger) -> Check:
    surprises = Counter(f"{s.page} -> {s.status} ({s.note})" for s in ledger["surprise"]
                        if isinstance(s.status, int) and s.status < 500)
    return Check("no unexpected 4xx or redirects", not surprises,
                 _listing(surprises) if surprises else "every answer was one the page can give")


def decisions(db: Database, ledger: Ledger) -> list[Check]:
    finals: dict[int, list[str]] = defaultdict(list)
    asked: Counter = Counter()
    for _, request_id, _, details in db.of("request.decided"):
        if details.get("decision") in FINAL:
            finals[request_id].append(details["decision"])
        elif details.get("decision") == "request_info":
            asked[request_id] += 1
    twice = {number: found for number, found in finals.items() if len(found) > 1}
    mismatched = []
    for number, (status, decided) in db.requests.items():
        found = finals.get(number, [])
        expected = [decision for decision, final in FINAL.items() if final == status]
        if found != expected or decided != bool(expected):
            mismatched.append(f"#{number} {status} (decided_at {'set' if decided else 'empty'}) "
                              f"with events {found or 'none'}")
    unknown = sorted(set(finals) - set(db.requests))
    checks = [
        Check("every request decided at most once", not twice,
              f"{len(twice)} decided twice or more: " + ", ".join(f"#{n} {d}" for n, d in sorted(twice.items())[:10])
              if twice else f"{sum(map(len, finals.values()))} final decisions on {len(db.requests)} requests"),
        Check("exactly one request.decided event per final decision", not mismatched and not unknown,
              "; ".join(mismatched[:8] + [f"events for unknown requests {unknown[:5]}"] * bool(unknown))
              if mismatched or unknown else "each approved/rejected request has its one event, others none"),
    ]
    # A question (request_info) is answered, withdrawn or still open: one event per round trip.
    answers = Counter(request_id for _, request_id, _, _ in db.of("request.evidence_added"))
    withdrawn_waiting = Counter(request_id for _, request_id, _, details in db.of("request.withdrawn")
                                if details.get("status_before") == "needs_info")
    unbalanced = [f"#{number}: {asked[number]} questions, {answers[number]} answers, status {status}"
                  for number, (status, _) in db.requests.items()
                  if asked[number] != answers[number] + withdrawn_waiting[number] + (status == "needs_info")]
    checks.append(Check("one request_info event per question asked", not unbalanced,
                        "; ".join(unbalanced[:8]) if unbalanced
                        else f"{sum(asked.values())} questions, {sum(answers.values())} answered"))
    seen = Counter(number for number, decision in ledger["decided"] if decision in FINAL)
    recorded = Counter({number: len(found) for number, found in finals.items()})
    seen_asked = len([1 for _, decision in ledger["decided"] if decision == "request_info"])
    differ = {n: (seen[n], recorded[n]) for n in set(seen) | set(recorded) if seen[n] != recorded[n]}
    checks.append(Check("decisions the agents were told of = decisions recorded",
                        not differ and seen_asked == sum(asked.values()),
                        f"told/recorded differ on {len(differ)} requests {dict(sorted(differ.items())[:8])}; "
                        f"questions told {seen_asked}, recorded {sum(asked.values())}"
                        if differ or seen_asked != sum(asked.values())
                        else f"{sum(seen.values())} final decisions and {seen_asked} questions, each confirmed"))
    return checks


def sign_ins(db: Database, ledger: Ledger) -> list[Check]:
    logins, seen = len(db.of("auth.login")), len(ledger["sign_in"])
    logouts, seen_out = len(db.of("auth.logout")), len(ledger["sign_out"])
    leftover = len(ledger["session_after_failed_sign_in"])
    return [
        Check("one auth.login per successful sign-in", logins == seen and not leftover,
              f"{seen} sign-ins seen, {logins} auth.login events"
              + (f"; {leftover} sessions survived a failed sign-in" if leftover else "")),
        Check("one auth.logout per sign-out", logouts == seen_out,
              f"{seen_out} sign-outs seen, {logouts} auth.logout events"),
    ]


def throttle(db: Database, ledger: Ledger, target: str) -> Check:
    failed = Counter(actor for _, _, actor, _ in db.of("auth.login_failed"))
    checked, refused = len(ledger["attacker_checked"]), len(ledger["attacker_refused"])
    others = {actor: count for actor, count in failed.items() if actor != target}
    ok = (failed[target] == checked == PASSWORD_CHECKS_PER_WINDOW and not others
          and not ledger["attacker_signed_in"])
    return Check(f"the attacker got exactly {PASSWORD_CHECKS_PER_WINDOW} password checks", ok,
                 f"{checked} wrong passwords checked, {refused} refused with 429; "
                 f"{failed[target]} auth.login_failed events for {target}"
                 + (f"; failed sign-ins of others: {others}" if others else ""))


def filings(db: Database, ledger: Ledger) -> Check:
    filed = Counter(number for number, _ in ledger["filed"])
    submitted = Counter(request_id for _, request_id, _, _ in db.of("request.submitted"))
    problems = []
    if set(filed) != set(db.requests):
        problems.append(f"filed {len(filed)} seen, {len(db.requests)} rows "
                        f"(rows not seen {sorted(set(db.requests) - set(filed))[:5]}, "
                        f"seen without a row {sorted(set(filed) - set(db.requests))[:5]})")
    twice = [number for number, count in submitted.items() if count != 1]
    missing = sorted(set(db.requests) - set(submitted))
    if twice or missing:
        problems.append(f"request.submitted events: repeated for {twice[:5]}, missing for {missing[:5]}")
    return Check("one row and one request.submitted event per filed request", not problems,
                 "; ".join(problems) or f"{len(db.requests)} requests filed")


def exports(db: Database, ledger: Ledger) -> Check:
    recorded = Counter((actor, details.get("format"), details.get("rows"))
                       for _, _, actor, details in db.of("audit.exported") if details.get("completed"))
    unfinished = [details for _, _, _, details in db.of("audit.exported") if not details.get("completed")]
    received = Counter(ledger["export"])
    cut = ledger["export_cut_short"]
    ok = recorded == received and not unfinished and not cut
    return Check("each export served whole and recorded with its row count", ok,
                 f"{sum(received.values())} exports received, {sum(recorded.values())} recorded complete"
                 + (f"; received but not recorded {dict(received - recorded)}" if received - recorded else "")
                 + (f"; recorded but not received {dict(recorded - received)}" if recorded - received else "")
                 + (f"; {len(unfinished)} recorded unfinished" if unfinished else "")
                 + (f"; {len(cut)} cut short: {cut[:3]}" if cut else ""))


def audit_verify(env: dict[str, str]) -> Check:
    result = flask_cli(env, "audit", "verify")
    output = (result.stdout + result.stderr).strip().splitlines()
    return Check("flask audit verify", result.returncode == 0,
                 f"exit {result.returncode}: {output[-1] if output else ''}")


def workload_ran(ledger: Ledger, people: int) -> Check:
    """The checks above pass vacuously on a run that did nothing: it must have done each thing."""
    needs = {"sign_in": people, "filed": 1, "decided": 1, "export": 1, "attacker_refused": 1}
    # Reached in a normal minute, but not always on a slow or loaded machine: reported, not required.
    also = ("sign_out", "answered", "reauthenticated", "withdrawn", "double_click", "decision_refused",
            "filing_refused")
    short = {kind: len(ledger[kind]) for kind, least in needs.items() if len(ledger[kind]) < least}
    return Check("the workload ran (every user signed in; requests filed, decided, exported)", not short,
                 f"too few: {short}" if short else
                 ", ".join(f"{kind} {len(ledger[kind])}" for kind in (*needs, *also)))


def run_checks(database_url: str, env: dict[str, str], samples: list[Sample], ledger: Ledger,
               target: str, people: int) -> list[Check]:
    db = Database.read(database_url)
    return [no_server_errors(samples), no_surprises(ledger), *decisions(db, ledger),
            *sign_ins(db, ledger), throttle(db, ledger, target), filings(db, ledger),
            exports(db, ledger), audit_verify(env), workload_ran(ledger, people)]
