"""What each kind of person does, as a loop that runs until the deadline (RunOver).

Everyone signs in through the form, and now and then signs out and in again (sign-ins are counted
against `auth.login` events). Between actions each waits up to `think` seconds (managers, who read,
longer). Choices come from a random generator seeded per person, so runs do the same kinds of things;
the timing, and so the races, differ.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import requests

from bench.load.browser import Browser, Ledger, Recorder, RunOver, flashes, local_target
from bench.load.fixtures import Account, Screenshot

REASONS = ("competitor_attack", "wrong_offer", "blackmail", "unrelated_feedback")
DECISIONS = ("approve", "reject", "request_info")
DECISION_WEIGHTS = (35, 40, 25)
REQUEST_LINK = re.compile(r'href="(/seller/reviews/[^"/]+/deletion-request)"')
SELLER_ROW = re.compile(r'href="/seller/requests/(\d+)">#\d+</a>.*?status-pill status-(\w+)', re.S)
THUMBNAIL = re.compile(r'/evidence/(\d+)/thumbnail')
AUDIT_NEXT = re.compile(r'href="(/audit\?[^"]*)" rel="next"')
AUDIT_REQUEST = re.compile(r'href="/requests/(\d+)">#')
# A person signs out and in again after this many actions (a sign-in costs ~0.4 s of scrypt).
SESSION_ACTIONS = (4, 12)
DECIDED = re.compile(r"^(Approved|Rejected) #(\d+)|^Asked the seller for more information on #(\d+)")


@dataclass
class Setting:
    """What every person needs: where, until when, and how to report."""

    base_url: str
    deadline: float
    recorder: Recorder
    ledger: Ledger
    think: float
    shots: list[Screenshot]


class Person:
    think_factor = 1.0

    def __init__(self, account: Account, setting: Setting, seed: int) -> None:
        self.account = account
        self.setting = setting
        self.rng = random.Random(seed)
        self.browser = Browser(setting.base_url, account.email, setting.recorder, setting.ledger,
                               setting.deadline)
        self.ledger = setting.ledger
        self.actions_until_sign_out = self.rng.randrange(*SESSION_ACTIONS)

    def run(self) -> None:
        try:
            self.sign_in()
            while True:
                self.act()
                self.pause(self.rng.uniform(0, self.setting.think * self.think_factor))
                self.actions_until_sign_out -= 1
                if self.actions_until_sign_out <= 0:
                    self.sign_out()
                    self.sign_in()
                    self.actions_until_sign_out = self.rng.randrange(*SESSION_ACTIONS)
        except RunOver:
            pass

    def act(self) -> None:
        raise NotImplementedError

    def pause(self, seconds: float) -> None:
        if time.monotonic() + seconds >= self.setting.deadline:
            raise RunOver
        time.sleep(seconds)

    def sign_in(self) -> None:
        """Until signed in (a 429 here means the attacker locked out an innocent user)."""
        while True:
            if self.browser.get("/login") is None:
                self.pause(1)
                continue
            response = self.browser.post("/login", {"email": self.account.email,
                                                    "password": self.account.password}, expect=(302,))
            if response is not None and response.status_code == 302 \
                    and not local_target(response).startswith("/login"):
                self.ledger.add("sign_in", self.account.email)
                self.browser.follow(response)
                return
            # A failed sign-in must leave no session behind: the next GET /login says.
            probe = self.browser.get("/login", expect=(200,))
            if probe is not None and probe.status_code == 302:
                self.ledger.add("session_after_failed_sign_in", self.account.email)
                self.browser.follow(probe)
                return
            self.pause(1)

    def sign_out(self) -> None:
        response = self.browser.post("/logout", {}, expect=(302,))
        if response is not None and response.status_code == 302:
            self.ledger.add("sign_out", self.account.email)
            self.browser.follow(response)
        # Whatever happened, start the next session with a clean cookie jar.
        self.browser.http.cookies.clear()


class Seller(Person):
    def act(self) -> None:
        choice = self.rng.random()
        if choice < 0.55:
            self.file_request()
        elif choice < 0.95:
            self.follow_requests()
        else:
            self.withdraw_one()

    def _screenshots(self, low: int, high: int) -> list[tuple[str, tuple[str, bytes, str]]]:
        picked = self.rng.sample(self.setting.shots, self.rng.randint(low, high))
        return [("evidence", (shot.name, shot.data, shot.mimetype)) for shot in picked]

    def file_request(self) -> None:
        links: list[str] = []
        for number in (1, 2):
            page = self.browser.get(f"/seller/reviews?page={number}")
            if page is None:
                return
            links = sorted(set(REQUEST_LINK.findall(page.text)))
            if links:
                break
        if not links:
            return
        target = self.rng.choice(links)
        form = self.browser.get(target)
        if form is None or 'name="explanation"' not in form.text:
            return
        explanation = (f"The buyer wrote this in the chat on order {target.split('/')[3]}: see the "
                       f"screenshots, message {self.rng.randrange(1000)} and the ones after it.")
        response = self.browser.post(target, {"reason": self.rng.choice(REASONS),
                                              "explanation": explanation},
                                     expect=(303, 422), files=self._screenshots(1, 3))
        if response is None:
            return
        if response.status_code == 303:
            request_id = int(local_target(response).rsplit("/", 1)[1])
            self.ledger.add("filed", (request_id, self.account.email))
            self.browser.follow(response)
        elif response.status_code == 422:
            notice = re.search(r'role="alert">.*?<p>(.*?)</p>|class="field-error">(.*?)<', response.text, re.S)
            self.ledger.add("filing_refused", " ".join((notice.group(1) or notice.group(2)).split())
                            if notice else "no reason shown")

    def _open_requests(self) -> list[tuple[int, str]]:
        page = self.browser.get("/seller/requests?status=open")
        return [(int(number), status) for number, status in SELLER_ROW.findall(page.text)] if page else []

    def follow_requests(self) -> None:
        rows = self._open_requests()
        waiting = [number for number, status in rows if status == "needs_info"]
        if not waiting:
            if rows:
                detail = self.browser.get(f"/seller/requests/{self.rng.choice(rows)[0]}")
                thumbnails = sorted(set(THUMBNAIL.findall(detail.text))) if detail else []
                if thumbnails:
                    self.browser.get(f"/evidence/{self.rng.choice(thumbnails)}/thumbnail")
            return
        number = self.rng.choice(waiting)
        detail = self.browser.get(f"/seller/requests/{number}")
        if detail is None or "Send answer" not in detail.text:
            return
        files = self._screenshots(0, 1) if self.rng.random() < 0.5 else []
        response = self.browser.post(f"/seller/requests/{number}/evidence",
                                     {"message": f"Here is more: the buyer also wrote {self.rng.randrange(999)}."},
                                     expect=(303,), files=files or None)
        page = self.browser.follow(response)
        if any(text.startswith("Thank you. Your answer") for _, text in flashes(page)):
            self.ledger.add("answered", number)

    def withdraw_one(self) -> None:
        rows = self._open_requests()
        if not rows:
            return
        number = self.rng.choice(rows)[0]
        form = self.browser.get(f"/seller/requests/{number}/withdraw", expect=(200, 303))
        if form is None or form.status_code != 200:
            self.browser.follow(form)
            return
        response = self.browser.post(f"/seller/requests/{number}/withdraw",
                                     {"reason": "Sorted it out with the buyer."}, expect=(303,))
        page = self.browser.follow(response)
        if any(text.startswith("You withdrew the request") for _, text in flashes(page)):
            self.ledger.add("withdrawn", number)


class Agent(Person):
    def __init__(self, account: Account, setting: Setting, seed: int) -> None:
        super().__init__(account, setting, seed)
        self.current: requests.Response | None = None  # the request page we are on

    def act(self) -> None:
        if self.current is None:
            self.take_next()
        else:
            self.work(self.current)

    def take_next(self) -> None:
        filters = self.rng.choice(["", "", "?assignee=unassigned", f"?reason={self.rng.choice(REASONS)}",
                                   "?status=needs_info", "?status=approved"])
        if self.browser.get(f"/queue{filters}") is None:
            return
        response = self.browser.post("/queue/next", {}, expect=(303,))
        page = self.browser.follow(response)
        if response is not None and local_target(response).startswith("/requests/"):
            self.current = page
        else:
            self.pause(self.rng.uniform(0.5, 1.5))  # the queue is empty (or busy): wait for sellers

    def work(self, page: requests.Response) -> None:
        self.current = None
        path = page.url.split(self.setting.base_url, 1)[1].split("?")[0]
        for number in sorted(set(THUMBNAIL.findall(page.text)))[:3]:
            self.browser.get(f"/evidence/{number}/thumbnail")
        if 'name="decision"' not in page.text:
            return  # not ours to decide (any more)
        if self.rng.random() < 0.3:
            response = self.browser.post(f"{path}/notes", {"note": "Checked the screenshots against "
                                                                   "the order chat."}, expect=(303,))
            page = self.browser.follow(response) or page
        if self.rng.random() < 0.1:
            self.browser.follow(self.browser.post(f"{path}/release", {}, expect=(303,)))
            page = self.browser.follow(self.browser.post(f"{path}/claim", {}, expect=(303,)))
            if page is None or 'name="decision"' not in page.text:
                return  # another agent took it meanwhile
        self.decide(path)

    def decide(self, path: str) -> None:
        decision = self.rng.choices(DECISIONS, DECISION_WEIGHTS)[0]
        fields = {"decision": decision,
                  "note": {"approve": "The screenshots show the buyer asking for a discount.",
                           "reject": "The screenshots do not show what the reason needs.",
                           "request_info": "Please send the full chat, including the first message."}[decision],
                  "internal_note": "load test" if self.rng.random() < 0.5 else ""}
        and_next = self.rng.random() < 0.3
        fields["submit_and_next" if and_next else "submit"] = "x"
        if not and_next and self.rng.random() < 0.1:
            self.double_click(path, fields)
            return
        response = self.browser.post(f"{path}/decision", fields, expect=(303,))
        page = self.browser.follow(response)
        self.note_outcome(path, decision, page)
        if and_next and response is not None and local_target(response).startswith("/requests/") \
                and local_target(response).split("?")[0] != path:
            self.current = page

    def double_click(self, path: str, fields: dict[str, str]) -> None:
        """The same decision posted twice at once from one session: one may be recorded."""
        tab = self.browser.second_tab()
        pages: dict[str, requests.Response | None] = {}

        def post(browser: Browser, key: str) -> None:
            try:
                pages[key] = browser.follow(browser.post(f"{path}/decision", fields, expect=(303,)))
            except RunOver:
                pages[key] = None

        other = threading.Thread(target=post, args=(tab, "tab"))
        other.start()
        post(self.browser, "main")
        other.join()
        self.ledger.add("double_click", path)
        for page in pages.values():
            self.note_outcome(path, fields["decision"], page)

    def note_outcome(self, path: str, decision: str, page: requests.Response | None) -> None:
        request_id = int(path.rsplit("/", 1)[1])
        for kind, text in flashes(page):
            match = DECIDED.match(text)
            if match and int(match.group(2) or match.group(3)) == request_id:
                self.ledger.add("decided", (request_id, decision))
                return
        self.ledger.add("decision_refused", (request_id, decision))


class Manager(Person):
    think_factor = 2.0

    def act(self) -> None:
        choice = self.rng.random()
        if choice < 0.1:
            self.browser.get("/dashboard")
        elif choice < 0.35:
            self.browse_audit()
        elif choice < 0.6:
            self.filter_audit()
        else:
            self.export()

    def browse_audit(self) -> None:
        page = self.browser.get("/audit")
        for _ in range(self.rng.randint(1, 3)):
            link = AUDIT_NEXT.search(page.text) if page is not None else None
            if link is None:
                return
            page = self.browser.get(link.group(1).replace("&amp;", "&"))

    def _filters(self) -> dict[str, str]:
        today = datetime.now(UTC).date().isoformat()
        return self.rng.choice([
            {}, {"action": "request.decided"}, {"action": "auth.login_failed"},
            {"actor": f"agent{self.rng.randint(1, 20):02d}@load.example.com"},
            {"since": today, "until": today}, {"action": "request.submitted", "since": today},
        ])

    def filter_audit(self) -> None:
        page = self.browser.get("/audit?" + urlencode(self._filters()))
        requests_seen = AUDIT_REQUEST.findall(page.text) if page is not None else []
        if requests_seen:
            self.browser.get(f"/audit?request={self.rng.choice(requests_seen)}")

    def export(self) -> None:
        fmt = self.rng.choice(("csv", "jsonl"))
        response = self.browser.get(f"/audit/export.{fmt}?" + urlencode(self._filters()), expect=(200, 302))
        if response is not None and response.status_code == 302:
            confirm = self.browser.follow(response)
            if confirm is None or "Confirm your password" not in confirm.text:
                return
            # The password prompt is part of the export the manager asked for: finished even
            # past the deadline (one more request, bounded by its timeouts).
            answer = self.browser.post(local_target(response), {"password": self.account.password},
                                       expect=(302,), after_deadline=True)
            if answer is None or answer.status_code != 302:
                return
            self.ledger.add("reauthenticated", self.account.email)
            response = self.browser.follow(answer)
        if response is None or response.status_code != 200:
            return
        rows = export_rows(fmt, response.text)
        if rows is None:
            self.ledger.add("export_cut_short", (self.account.email, fmt, len(response.content)))
        else:
            self.ledger.add("export", (self.account.email, fmt, rows))


def export_rows(fmt: str, text: str) -> int | None:
    """Rows in a complete export, or None when it is cut short or malformed."""
    if fmt == "jsonl":
        if text and not text.endswith("\n"):
            return None
        try:
            return sum(1 for line in text.splitlines() if json.loads(line)["hash"])
        except (ValueError, KeyError, TypeError):
            return None
    records = list(csv.reader(io.StringIO(text)))
    if not records or records[0][:2] != ["id", "occurred_at"] or any(len(r) != len(records[0]) for r in records):
        return None
    return len(records) - 1
