"""The real server, SIGKILLed in the middle of uploads and decisions, again and again.

gunicorn (two sync workers) serves wsgi:app on this test's database and UPLOAD_DIR. Each round fires
a seller's multi-file upload (a new request, or an answer with files) and an agent's decision at
once over real HTTP, SIGKILLs the server's whole process group, and starts it again. The moment of
the kill is chosen three ways, in turn:

- timed: a random moment within an upload's usual duration, the decision started so that it is in
  flight then too (the upload is mostly decoding and re-encoding images at that point);
- files k/6: once the upload has written k of its six files (three images, three thumbnails), k at
  random: its request row is flushed and its files are being written, nothing is committed yet;
- wal (SQLite only; timed on PostgreSQL): as soon as a transaction's pages reach the database's
  write-ahead log, i.e. in the middle of a commit.

Whatever a kill interrupted, only whole changes may remain, checked directly in the database: each
request has its evidence and its `request.submitted` event; its status is the one its audit events
lead to (no decision without its event, no event without its decision); each evidence row is listed
by exactly one event and has its complete file and thumbnail; the audit chain verifies. Files of an
upload killed before its commit are orphans by design, and `evidence gc` removes exactly those.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from moderation_app.extensions import db
from moderation_app.models import (
    AuditEvent,
    DeletionRequest,
    Evidence,
    MessageKind,
    Reason,
    RequestMessage,
    RequestStatus,
    User,
)
from moderation_app.services.audit.log import verify_chain
from moderation_app.services.evidence.storage import EvidenceStore, prepare_images
from moderation_app.services.requests.claims import claim
from moderation_app.services.requests.filing import seller_review, submit_request
from tests.helpers.accounts import PASSWORD
from tests.helpers.clients import CSRF_INPUT
from tests.helpers.database import engine_options
from tests.helpers.images import image_bytes, noisy_png
from tests.helpers.marketplace import import_reviews, review_line
from tests.helpers.requests import EXPLANATION
from tests.helpers.stored import stored_files

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(os.name != "posix", reason="needs process groups and SIGKILL"),
]

ROUNDS = 18
# The plan (kill modes, delays, decisions) repeats run to run; only the machine's timing varies,
# and the checks hold whatever moment a kill lands.
SEED = 6
UPLOAD_FILES = 3
# Incompressible pixels: about 0.9 MB a file, and a few hundred ms for the server to re-encode.
FILE_SIZE = (640, 480)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+) \(")
CUT = "cut"  # the kill ended the request before its answer arrived


# --- a browser over real HTTP ---------------------------------------------------------------------

class Browser:
    """One user: http.client, a fresh connection per request, cookies and CSRF token kept. The
    session cookie stays valid across server restarts (same SECRET_KEY, token in the database)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.csrf_token = ""

    def send(self, port: int, method: str, path: str, body: bytes | None = None,
             content_type: str | None = None, timeout: float = 30) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if content_type:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].strip().partition("=")
                if value and "Max-Age=0" not in header:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return response.status, data
        finally:
            connection.close()

    def get_csrf_token(self, port: int, path: str) -> None:
        status, page = self.send(port, "GET", path)
        match = CSRF_INPUT.search(page.decode())
        assert status == 200 and match, f"no form at {path} ({status})"
        self.csrf_token = match.group(1)

    def post_form(self, port: int, path: str, fields: dict[str, str]) -> int:
        body = urlencode({"csrf_token": self.csrf_token, **fields}).encode()
        return self.send(port, "POST", path, body, "application/x-www-form-urlencoded")[0]

    def post_files(self, port: int, path: str, fields: dict[str, str],
                   files: list[tuple[str, bytes]]) -> int:
        boundary = secrets.token_hex(16)
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                 .encode() for name, value in {"csrf_token": self.csrf_token, **fields}.items()]
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="evidence"; '
                  f'filename="{name}"\r\nContent-Type: image/png\r\n\r\n'.encode() + data + b"\r\n"
                  for name, data in files]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.send(port, "POST", path, body, f"multipart/form-data; boundary={boundary}")[0]


def sign_in(port: int, email: str, form_path: str) -> Browser:
    browser = Browser()
    browser.get_csrf_token(port, "/login")
    assert browser.post_form(port, "/login", {"email": email, "password": PASSWORD}) == 302
    browser.get_csrf_token(port, form_path)  # signing in starts a new session, with a new token
    return browser


# --- the server -----------------------------------------------------------------------------------

# Importing the app and its first upload take seconds (imagehash brings scipy): too long to pay at
# every restart. So one launcher imports `wsgi` once, warms up, and per "start" line forks a fresh
# gunicorn serving wsgi.app in a session of its own: a restart costs a fork, and one killpg takes
# the master and its workers.
LAUNCHER = r"""
import ctypes, io, os, signal, sys
from gunicorn.app.base import BaseApplication
from PIL import Image
import wsgi
from moderation_app.services.evidence.storage import prepare_images

# The first upload in a process imports scipy (perceptual hash) on the way: done here, once.
png = io.BytesIO()
Image.new("RGB", (64, 64)).save(png, "PNG")
png.seek(0)
prepare_images([("warm-up.png", png)])

class Gunicorn(BaseApplication):
    def __init__(self, log):
        self.log = log
        super().__init__()

    def load_config(self):
        # Port 0: the kernel picks a free port at each start, so there is no race for one.
        for key, value in {"bind": ["127.0.0.1:0"], "workers": 2, "errorlog": self.log,
                           "control_socket_disable": True}.items():
            self.cfg.set(key, value)

    def load(self):
        return wsgi.app

for line in sys.stdin:
    command, argument = line.rstrip("\n").split(" ", 1)
    if command == "start":
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if sys.platform.startswith("linux"):  # should pytest die, the server goes too
                ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            try:
                Gunicorn(argument).run()
            finally:
                os._exit(1)
        print(pid, flush=True)
    elif command == "wait":
        os.waitpid(int(argument), 0)
        print("ok", flush=True)
"""


class Server:
    """gunicorn serving wsgi:app, started afresh after each kill."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.log_dir = log_dir
        self.launcher_log = (log_dir / "launcher.log").open("wb")
        self.launcher = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER], cwd=PROJECT_ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.launcher_log)
        self.pid: int | None = None
        self.port = 0
        self.starts = 0

    def _ask(self, line: str) -> str:
        self.launcher.stdin.write(line + "\n")
        self.launcher.stdin.flush()
        answer = self.launcher.stdout.readline().strip()
        if not answer:
            pytest.fail("the server launcher died:\n" + (self.log_dir / "launcher.log").read_text())
        return answer

    def start(self) -> None:
        self.starts += 1
        log = self.log_dir / f"gunicorn-{self.starts}.log"
        self.pid = int(self._ask(f"start {log}"))
        deadline = time.monotonic() + 30
        while not (match := LISTENING.search(log.read_text() if log.exists() else "")):
            self._still_starting(log, deadline)
        self.port = int(match.group(1))
        while True:
            try:
                if Browser().send(self.port, "GET", "/healthz", timeout=5)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            self._still_starting(log, deadline)

    def _still_starting(self, log: Path, deadline: float) -> None:
        if time.monotonic() > deadline:
            self.kill()
            pytest.fail("gunicorn did not start:\n" + (log.read_text() if log.exists() else ""))
        time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL to the whole process group; returns once the master is gone."""
        if self.pid is None:
            return
        os.killpg(self.pid, signal.SIGKILL)
        self._ask(f"wait {self.pid}")
        self.pid = None

    def close(self) -> None:
        self.kill()
        self.launcher.stdin.close()  # ends the launcher's loop
        self.launcher.wait()
        self.launcher.stdout.close()
        self.launcher_log.close()


@pytest.fixture
def server(app: Flask, tmp_path: Path):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("FLASK_") and key not in ("DATABASE_URL", "UPLOAD_DIR")}
    env.update({
        "SECRET_KEY": "fault-test-secret-key",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        # The same connection options as the tests' app: on PostgreSQL, this process's schema.
        "FLASK_SQLALCHEMY_ENGINE_OPTIONS": json.dumps(engine_options()),
        "UPLOAD_DIR": app.config["UPLOAD_DIR"],
        "FLASK_SESSION_COOKIE_SECURE": "false",
        "FLASK_EVIDENCE_DAILY_QUOTA": "100000",
    })
    server = Server(env, tmp_path)
    yield server
    server.close()


# --- the desk's state before the kills ------------------------------------------------------------

def claimed_requests(app: Flask, seller: User, agent: User, review_ids: list[str]) -> list[int]:
    """Requests filed through the service and claimed by the agent, ready to be decided."""
    ids = []
    with app.app_context():
        seller_row, agent_row = db.session.get(User, seller.id), db.session.get(User, agent.id)
        images = prepare_images([("seed.png", io.BytesIO(image_bytes("PNG")))])
        with EvidenceStore(app.config["UPLOAD_DIR"]).transaction() as staged:
            for review_id in review_ids:
                deletion_request = submit_request(seller_row, seller_review(seller_row, review_id),
                                                  Reason.WRONG_OFFER, EXPLANATION, images, staged,
                                                  daily_quota=1000)
                claim(agent_row, deletion_request, timedelta(minutes=30))
                ids.append(deletion_request.id)
            db.session.commit()
    return ids


def open_questions(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(DeletionRequest.id).where(
            DeletionRequest.status == RequestStatus.NEEDS_INFO).order_by(DeletionRequest.id)))


# --- what must hold afterwards --------------------------------------------------------------------

def _whole_file(path: Path, sha256: str | None) -> str | None:
    """Why the file behind a row is not whole, or None."""
    if path.is_symlink() or not path.is_file():
        return "missing"
    if sha256 is not None:
        return None if hashlib.sha256(path.read_bytes()).hexdigest() == sha256 else "altered"
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as error:  # any decoding error means a damaged thumbnail
        return f"unreadable ({error})"
    return None


def _status_problems(name: str, events: list[tuple[str, dict]]) -> tuple[str | None, list[str]]:
    """The status a request's events lead to, and any event that does not follow from the last."""
    status, problems = None, []
    for action, details in events:
        if action == "request.submitted":
            status = RequestStatus.SUBMITTED.value
        elif action == "request.withdrawn":
            status = RequestStatus.WITHDRAWN.value
        elif action in ("request.decided", "request.evidence_added"):
            if details["status_before"] != status:
                problems.append(f"{name}: {action} from {details['status_before']}, but the "
                                f"events before it lead to {status}")
            status = details["status_after"]
    return status, problems


def _request_problems(deletion_request: DeletionRequest, events: list[tuple[str, dict]],
                      has_evidence: bool, decision_messages: int) -> list[str]:
    name, status = f"request {deletion_request.id}", deletion_request.status
    actions = [action for action, _ in events]
    problems = []
    if actions.count("request.submitted") != 1 or actions[:1] != ["request.submitted"]:
        problems.append(f"{name}: events {actions}, not one request.submitted first")
    if not has_evidence:
        problems.append(f"{name}: no evidence")
    replayed, out_of_order = _status_problems(name, events)
    problems += out_of_order
    if replayed != status.value:
        problems.append(f"{name}: status {status.value}, but its events lead to {replayed}")
    if actions.count("request.decided") != decision_messages:
        problems.append(f"{name}: {actions.count('request.decided')} request.decided events, "
                        f"{decision_messages} decision messages")
    if (status in (RequestStatus.APPROVED, RequestStatus.REJECTED)) != \
            (deletion_request.decided_at is not None):
        problems.append(f"{name}: status {status.value}, decided_at {deletion_request.decided_at}")
    if (status is RequestStatus.APPROVED) == deletion_request.review.is_visible:
        problems.append(f"{name}: status {status.value}, review visible "
                        f"{deletion_request.review.is_visible}")
    return problems


def inconsistencies(app: Flask) -> list[str]:
    """Everything in the database and UPLOAD_DIR that only a half-done change could have left."""
    upload_dir = Path(app.config["UPLOAD_DIR"])
    events: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    # evidence id -> the (request, message) of each event that lists it
    listed: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    problems: list[str] = []
    with app.app_context():
        for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)
                                        .where(AuditEvent.request_id.is_not(None))):
            details = json.loads(event.details)
            events[event.request_id].append((event.action, details))
            for item in details.get("evidence", []):
                listed[item["id"]].append((event.request_id, details.get("message_id")))
        evidence = list(db.session.scalars(select(Evidence).order_by(Evidence.id)))
        with_evidence = {item.request_id for item in evidence if item.message_id is None}
        decision_messages = Counter(db.session.scalars(
            select(RequestMessage.request_id).where(RequestMessage.kind.in_(
                [MessageKind.DECISION, MessageKind.INFO_REQUESTED]))))
        for deletion_request in db.session.scalars(select(DeletionRequest)):
            problems += _request_problems(deletion_request, events[deletion_request.id],
                                          deletion_request.id in with_evidence,
                                          decision_messages[deletion_request.id])
        for item in evidence:
            if listed.pop(item.id, []) != [(item.request_id, item.message_id)]:
                problems.append(f"evidence {item.id}: not listed by exactly one event of its "
                                "request")
            for file_name, sha256 in ((item.stored_name, item.sha256), (item.thumbnail_name, None)):
                if why := _whole_file(upload_dir / file_name, sha256):
                    problems.append(f"evidence {item.id}: file {file_name} {why}")
        problems += [f"events list evidence {item_id}, which has no row" for item_id in listed]
        chain = verify_chain()
        if not chain.ok:
            problems.append(f"audit chain broken at {chain.broken_at}: {chain.reason}")
    return problems


def referenced_files(app: Flask) -> set[str]:
    with app.app_context():
        return {name for row in db.session.execute(select(Evidence.stored_name,
                                                          Evidence.thumbnail_name))
                for name in row}


# --- the rounds -----------------------------------------------------------------------------------

@dataclass
class Round:
    mode: str
    upload_kind: str = ""
    upload: str = ""
    decision: str = ""

    def __str__(self) -> str:
        return (f"{self.mode:<13} {self.upload_kind:<7} upload {self.upload:<4} "
                f"decision {self.decision}")


def _outcome(call: Callable[[], int]) -> str:
    try:
        return str(call())
    except (OSError, http.client.HTTPException):
        return CUT


def _timed(call: Callable[[], int]) -> tuple[str, float]:
    started = time.monotonic()
    return _outcome(call), time.monotonic() - started


def _wait_for(condition: Callable[[], bool], deadline: float) -> None:
    # Past the deadline (nothing was written, say) the kill simply comes late.
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.0005)


class Desk:
    """A seller and an agent signed in to the running server; ``upload`` and ``decision`` return
    the next request of each, ready to fire."""

    def __init__(self, app: Flask, server: Server, rng: random.Random, seller: User,
                 agent: User, reviews: list[str], to_decide: list[int]) -> None:
        self.app, self.server, self.rng = app, server, rng
        self.reviews, self.to_decide = iter(reviews), iter(to_decide)
        self.files = [(f"chat-{seed}.png", noisy_png(FILE_SIZE, seed)) for seed in range(UPLOAD_FILES)]
        self.answered: set[int] = set()
        self.seller = sign_in(server.port, seller.email,
                              f"/seller/reviews/{reviews[0]}/deletion-request")
        self.agent = sign_in(server.port, agent.email, "/queue")

    def upload(self) -> tuple[str, Callable[[], int]]:
        """A new request, or now and then the answer (with files) to an agent's question."""
        questions = [number for number in open_questions(self.app) if number not in self.answered]
        if questions and self.rng.random() < 0.4:
            self.answered.add(questions[0])
            path = f"/seller/requests/{questions[0]}/evidence"
            fields = {"message": "Here is the chat you asked for."}
            kind = "answer"
        else:
            path = f"/seller/reviews/{next(self.reviews)}/deletion-request"
            fields = {"reason": "wrong_offer", "explanation": EXPLANATION}
            kind = "request"
        return kind, lambda: self.seller.post_files(self.server.port, path, fields, self.files)

    def decision(self) -> Callable[[], int]:
        path = f"/requests/{next(self.to_decide)}/decision"
        fields = {"decision": self.rng.choice(["approve", "reject", "request_info"]),
                  "note": "Checked the screenshots against the order.", "submit": "Record decision"}
        return lambda: self.agent.post_form(self.server.port, path, fields)

    def usual_durations(self) -> tuple[float, float]:
        """A round without a kill: the app works, and how long an upload and a decision take."""
        with ThreadPoolExecutor(2) as pool:
            upload = pool.submit(_timed, self.upload()[1])
            decision = pool.submit(_timed, self.decision())
            (upload_status, upload_seconds), (decision_status, decision_seconds) = (
                upload.result(), decision.result())
        assert (upload_status, decision_status) == ("303", "303")
        return upload_seconds, decision_seconds

    def killed_round(self, mode: str, usual_upload: float, usual_decision: float) -> Round:
        this = Round(mode)
        this.upload_kind, upload = self.upload()
        decision = self.decision()
        upload_dir = Path(self.app.config["UPLOAD_DIR"])
        before = set(os.listdir(upload_dir))
        with ThreadPoolExecutor(2) as pool:
            started = time.monotonic()
            uploading = pool.submit(_outcome, upload)
            if mode == "timed":
                kill_at = self.rng.uniform(0.05, 1.2) * usual_upload
                time.sleep(max(0.0, kill_at - self.rng.uniform(0, 1.5) * usual_decision))
                deciding = pool.submit(_outcome, decision)
                time.sleep(max(0.0, started + kill_at - time.monotonic()))
            elif mode == "wal":
                database = self.app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
                wal = Path(database + "-wal")
                size_before = wal.stat().st_size if wal.exists() else 0
                deciding = pool.submit(_outcome, decision)
                _wait_for(lambda: wal.exists() and wal.stat().st_size != size_before,
                          started + 3 * usual_upload + 2)
                time.sleep(self.rng.uniform(0, 0.002))
            else:  # after the upload has written this many of its files (image, thumbnail, ...)
                deciding = pool.submit(_outcome, decision)
                written = self.rng.randint(1, 2 * UPLOAD_FILES)
                this.mode = f"files {written}/{2 * UPLOAD_FILES}"
                _wait_for(lambda: len(set(os.listdir(upload_dir)) - before) >= written,
                          started + 3 * usual_upload + 2)
                time.sleep(self.rng.uniform(0, 0.003))
            self.server.kill()
            this.upload, this.decision = uploading.result(), deciding.result()
        self.server.start()
        return this


def test_sigkill_during_uploads_and_decisions_leaves_only_whole_changes(
        app, runner, server, seller, agent):
    lines = [review_line(seller) for _ in range(2 * (ROUNDS + 2))]
    reviews = import_reviews(app, lines)
    to_decide = claimed_requests(app, seller, agent, reviews[ROUNDS + 2:])
    server.start()
    desk = Desk(app, server, random.Random(SEED), seller, agent, reviews[:ROUNDS + 2], to_decide)
    usual_upload, usual_decision = desk.usual_durations()
    on_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:")
    modes = ["timed", "files", "wal" if on_sqlite else "timed"]

    rounds = [desk.killed_round(modes[number % len(modes)], usual_upload, usual_decision)
              for number in range(ROUNDS)]
    desk.usual_durations()  # after all that, the server still takes a whole upload and decision
    server.kill()

    report = "\n".join(map(str, rounds))
    print(f"\n{report}")
    assert any(CUT in (this.upload, this.decision) for this in rounds), \
        f"no kill interrupted a request, so nothing was tested:\n{report}"
    # A request the kill did not cut got its whole, ordinary answer.
    assert {this.upload for this in rounds} | {this.decision for this in rounds} <= {CUT, "303"}, \
        report
    assert inconsistencies(app) == [], report

    orphans = set(stored_files(app)) - referenced_files(app)
    print(f"{len(orphans)} orphan files from uploads killed before their commit")
    result = runner.invoke(args=["evidence", "gc", "--min-age-minutes", "0"])
    assert result.exit_code == 0, result.output
    assert f"removed {len(orphans)} orphan files" in result.output
    assert set(stored_files(app)) == referenced_files(app)
    assert inconsistencies(app) == []
