"""Two desk servers on one PostgreSQL, one Redis and one S3: the deployment of docs/deployment.md,
proved over plain HTTP (the issue's "Prove it"; `make test-cluster` runs it).

Servers A and B are real gunicorns (2 sync workers each, their own loopback ports) serving
wsgi:app with the same SECRET_KEY on a fresh PostgreSQL database of this run (127.0.0.1:5432,
migrated by `flask db upgrade`), Redis on 127.0.0.1:6379 under this run's own key prefix, and
evidence in S3 (S3_ENDPOINT_URL, e.g. the SeaweedFS of `.ci/with-seaweedfs`) under this run's own
prefix. People are `requests` sessions, each with its cookies, posting the pages' CSRF tokens.

- A seller files with a screenshot on A; an agent on B sees it in the queue, gets the evidence
  byte for byte as S3 holds it (read with boto3, not the desk), claims and approves it; the
  marketplace's receiver on loopback gets exactly one signed `review.removed` for that review from
  `flask webhooks send --once`.
- Failed sign-ins split over A and B reach the per-account limit together.
- A receiver that fails three times, then accepts, ends with each event accepted once, every
  attempt recorded in the database.
- A large screenshot filed on A is held in S3 as received and shown as processing on B until an
  RQ worker (`flask jobs worker --burst`, a process of its own) stores it; B then serves it.

Without PostgreSQL, Redis or S3 the tests are skipped, saying which is missing; with
CLUSTER_TEST_REQUIRED set (as `make test-cluster` does) they fail instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
import requests
from flask import Flask
from rq import Queue
from PIL import Image
from sqlalchemy import select

from bench.load.servers import Server, app_environment, flask_cli, gunicorn
from moderation_app import create_app
from moderation_app.config import engine_options
from moderation_app.extensions import db
from moderation_app.models import (
    DeletionRequest,
    Evidence,
    EvidenceUpload,
    RequestStatus,
    Review,
    WebhookStatus,
)
from moderation_app.models.users import Role, User
from tests.helpers.accounts import PASSWORD, make_user
from tests.helpers.clients import CSRF_INPUT
from tests.helpers.images import image_bytes, picture
from tests.helpers.marketplace import review_line
from tests.helpers.requests import EXPLANATION
from tests.helpers.s3 import s3_client, s3_objects
from tests.helpers.webhooks import SECRET, Receiver, webhook_events, webhook_receiver

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(os.name != "posix", reason="needs process groups (gunicorn is stopped by group)"),
]

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
BUCKET = "desk-cluster-tests"
WORKERS = 2
# 4, not the production 10: two failures on each server reach it, and each server alone saw two.
LOGIN_LIMIT = 4
WRONG_PASSWORD = "not-the-password-at-all"
# Screenshots of at least this many pixels are processed by a job: above the 320×200 of the first
# test (decoded at once), below the 480×300 of the processing test.
BACKGROUND_PIXELS = 100_000
NOTE = "The screenshots show the buyer asking for a discount in exchange for the review."
# Every wait is bounded: a hung server or command fails the test instead of stalling CI.
HTTP_SECONDS = 30
CLI_SECONDS = 60
START_SECONDS = 60


# --- what the servers stand on ------------------------------------------------------------------

def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def missing_service() -> str | None:
    """Why the cluster cannot be built here, or None."""
    endpoint = os.environ.get("S3_ENDPOINT_URL")
    if not endpoint:
        return "needs S3_ENDPOINT_URL (an S3 server): run `make test-cluster`, which starts SeaweedFS"
    parts = urlsplit(endpoint)
    if not _answers(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)):
        return f"S3_ENDPOINT_URL {endpoint} does not answer"
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"needs PostgreSQL on 127.0.0.1:5432 as postgres ({type(error).__name__})"
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"needs Redis on 127.0.0.1:6379 ({type(error).__name__})"
    return None


def _on_postgres(statement: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """A `flask --app wsgi` command in a process of its own; its stdout, or the test fails."""
    result = flask_cli(env, *args, stdin=stdin, timeout=CLI_SECONDS)
    assert result.returncode == 0, f"flask {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


@dataclass
class Cluster:
    a: Server
    b: Server
    env: dict[str, str]          # what both servers and every command run with
    app: Flask                   # this process's view of the shared database
    bucket: str
    prefix: str                  # the evidence objects' key prefix in the bucket
    redis_prefix: str
    seller: User
    agent: User
    target: User                 # the account the throttle test locks
    reviews: list[str]           # the seller's imported reviews, one per request filed


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if (reason := missing_service()) is not None:
        if os.environ.get("CLUSTER_TEST_REQUIRED"):
            pytest.fail(reason)
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("cluster")
    run = f"cluster_{secrets.token_hex(4)}"
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{run}"
    # Letters first: FLASK_* values are read as JSON where they parse, and this must stay a string.
    redis_prefix = f"desk-limits-{run}"
    prefix = f"{run}/"
    env = app_environment(
        database_url, folder / "uploads",
        REDIS_URL=REDIS_URL, FLASK_RATELIMIT_KEY_PREFIX=redis_prefix,
        FLASK_LOGIN_LIMIT_PER_ACCOUNT=f"{LOGIN_LIMIT} per 15 minutes",
        EVIDENCE_STORAGE=f"s3://{BUCKET}/{prefix}",
        # This run's own job queue; uploads from 0.1 MP on are processed by a worker.
        FLASK_JOBS_QUEUE=f"desk-jobs-{run}", FLASK_EVIDENCE_BACKGROUND_PIXELS=str(BACKGROUND_PIXELS),
        # The webhook sender honours proxies: loopback must never go through one.
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    for name in ("MARKETPLACE_WEBHOOK_URL", "MARKETPLACE_WEBHOOK_SECRET", "SMTP_URL"):
        env.pop(name, None)
    servers = [gunicorn(env, folder / "a.log", WORKERS), gunicorn(env, folder / "b.log", WORKERS)]
    app = create_app({"TESTING": True, "SECRET_KEY": env["SECRET_KEY"],
                      "SQLALCHEMY_DATABASE_URI": database_url,
                      "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
                      "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://",
                      "EVIDENCE_STORAGE": env["EVIDENCE_STORAGE"],
                      "S3_ENDPOINT_URL": env["S3_ENDPOINT_URL"]})
    _on_postgres(f'CREATE DATABASE "{run}"')
    try:
        # Both servers boot (seconds of imports per worker) while the schema is migrated and the
        # desk filled; nothing asks them more than /healthz (SELECT 1) before that is done.
        with ThreadPoolExecutor(2) as pool:
            starting = [pool.submit(server.start, START_SECONDS) for server in servers]
            cli(env, "db", "upgrade")
            s3_objects(f"s3://{BUCKET}").ensure_bucket()
            seller = make_user(app, "seller@cluster.example.com", Role.SELLER)
            agent = make_user(app, "agent@cluster.example.com", Role.AGENT)
            target = make_user(app, "target@cluster.example.com", Role.SELLER)
            lines = [review_line(seller, text=f"Review {number}: pay me or I post more.")
                     for number in (1, 2, 3)]
            output = cli(env, "import-marketplace", "-",
                         stdin="".join(json.dumps(line) + "\n" for line in lines))
            assert "imported 3," in output, output
            for started in starting:
                started.result()
        yield Cluster(*servers, env=env, app=app, bucket=BUCKET, prefix=prefix,
                      redis_prefix=redis_prefix, seller=seller, agent=agent, target=target,
                      reviews=[line["review_id"] for line in lines])
    finally:
        for server in servers:
            server.stop()  # SIGTERM to its process group, SIGKILL after 10 s
        with app.app_context():
            db.engine.dispose()
        _on_postgres(f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)')
        store = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        for key in store.scan_iter(match=f"{redis_prefix}*"):
            store.delete(key)
        Queue(env["FLASK_JOBS_QUEUE"], connection=store).delete(delete_jobs=True)
        client = s3_client(env["S3_ENDPOINT_URL"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for item in page.get("Contents", ()):
                client.delete_object(Bucket=BUCKET, Key=item["Key"])


# --- people over HTTP ---------------------------------------------------------------------------

class Person:
    """One person's browser: a cookie jar of its own (cookies do not tell ports apart, so the
    same session reaches either server), and the CSRF token of the last page it read."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy between us and loopback
        self.csrf_token = ""

    def get(self, server: Server, path: str) -> requests.Response:
        response = self.session.get(server.base_url + path, timeout=HTTP_SECONDS,
                                    allow_redirects=False)
        if response.headers.get("Content-Type", "").startswith("text/html"):
            if match := CSRF_INPUT.search(response.text):
                self.csrf_token = match.group(1)
        return response

    def post(self, server: Server, path: str, fields: dict[str, str],
             files: list[tuple[str, tuple[str, bytes, str]]] | None = None) -> requests.Response:
        return self.session.post(server.base_url + path, data={"csrf_token": self.csrf_token, **fields},
                                 files=files, timeout=HTTP_SECONDS, allow_redirects=False)

    def sign_in(self, server: Server, email: str, password: str = PASSWORD) -> requests.Response:
        assert self.get(server, "/login").status_code == 200
        return self.post(server, "/login", {"email": email, "password": password})


def signed_in(server: Server, user: User) -> Person:
    person = Person()
    response = person.sign_in(server, user.email)
    assert response.status_code == 302, f"{user.email} could not sign in on {server.base_url}"
    return person


@pytest.fixture(scope="module")
def seller_on_a(cluster: Cluster) -> Person:
    return signed_in(cluster.a, cluster.seller)


@pytest.fixture(scope="module")
def agent_on_b(cluster: Cluster) -> Person:
    return signed_in(cluster.b, cluster.agent)


def file_request(seller: Person, server: Server, review_id: str, screenshot: bytes) -> int:
    """Files through the form; the request's id."""
    path = f"/seller/reviews/{review_id}/deletion-request"
    assert seller.get(server, path).status_code == 200
    response = seller.post(server, path, {"reason": "blackmail", "explanation": EXPLANATION},
                           files=[("evidence", ("chat.png", screenshot, "image/png"))])
    assert response.status_code == 303, response.text[:2000]
    return int(re.fullmatch(r".*/seller/requests/(\d+)", response.headers["Location"]).group(1))


def claim_and_approve(agent: Person, server: Server, request_id: int) -> None:
    assert agent.get(server, f"/requests/{request_id}").status_code == 200
    assert agent.post(server, f"/requests/{request_id}/claim", {}).status_code == 303
    decided = agent.post(server, f"/requests/{request_id}", {
        "decision": "approve", "note": NOTE, "internal_note": "", "reply_template": "",
        "submit": "Record decision"})
    assert decided.status_code == 303, decided.text[:2000]


def send_webhooks_once(cluster: Cluster, url: str) -> str:
    """`flask webhooks send --once` as cron would run it, to the receiver at `url`; a retry is
    due 10 ms after a failure, so the next run makes it."""
    return cli({**cluster.env, "MARKETPLACE_WEBHOOK_URL": url, "MARKETPLACE_WEBHOOK_SECRET": SECRET,
                "FLASK_WEBHOOK_RETRY_SECONDS": "0.01", "FLASK_WEBHOOK_TIMEOUT_SECONDS": "5"},
               "webhooks", "send", "--once")


# --- the tests ----------------------------------------------------------------------------------

def test_filed_on_one_server_decided_on_the_other_and_the_marketplace_told_once(
        cluster, seller_on_a, agent_on_b):
    review_id = cluster.reviews[0]
    screenshot = image_bytes("PNG", (320, 200), seed=11)

    request_id = file_request(seller_on_a, cluster.a, review_id, screenshot)

    queue = agent_on_b.get(cluster.b, "/queue")
    assert queue.status_code == 200 and f'href="/requests/{request_id}"' in queue.text
    page = agent_on_b.get(cluster.b, f"/requests/{request_id}")
    (evidence_id,) = {int(number) for number in re.findall(r'href="/evidence/(\d+)"', page.text)}
    served = agent_on_b.get(cluster.b, f"/evidence/{evidence_id}")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    with cluster.app.app_context():
        evidence = db.session.get(Evidence, evidence_id)
        stored_name, sha256 = evidence.stored_name, evidence.sha256
    stored = s3_client(cluster.env["S3_ENDPOINT_URL"]).get_object(
        Bucket=cluster.bucket, Key=cluster.prefix + stored_name)
    assert served.content == stored["Body"].read()
    assert hashlib.sha256(served.content).hexdigest() == sha256 == stored["Metadata"]["sha256"]
    # Re-encoded on A, it is still the seller's screenshot pixel for pixel (PNG is lossless).
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.convert("RGB").tobytes() == picture((320, 200), seed=11).tobytes()

    claim_and_approve(agent_on_b, cluster.b, request_id)

    with cluster.app.app_context():
        decided = db.session.get(DeletionRequest, request_id)
        assert decided.status is RequestStatus.APPROVED
        assert db.session.scalars(select(Review.is_visible).where(Review.external_id == review_id)).one() \
            is False
    # The seller's session, started on A, reads the decision on B.
    statement = seller_on_a.get(cluster.b, f"/seller/requests/{request_id}")
    assert statement.status_code == 200 and NOTE in statement.text

    receiver = Receiver()
    with webhook_receiver(receiver) as url:
        output = send_webhooks_once(cluster, url)

    assert "delivered 2, failed 0" in output
    removed = [delivery for delivery in receiver.requests if delivery.payload["type"] == "review.removed"]
    assert len(removed) == 1
    (delivery,) = removed
    assert delivery.verified and delivery.status == 204  # signature checked by standardwebhooks
    assert delivery.payload["data"]["review_id"] == review_id
    assert delivery.payload["data"]["request_id"] == request_id
    assert delivery.payload["data"]["statement"]["public_note"] == NOTE
    assert receiver.accepted_types() == ["request.decided", "review.removed"]
    (event,) = [event for event in webhook_events(cluster.app)
                if event.request_id == request_id and event.type.value == "review.removed"]
    assert (delivery.body, delivery.headers["webhook-id"]) == (event.payload, event.webhook_id)
    assert (event.status, event.attempts) == (WebhookStatus.DELIVERED, 1)


def test_failed_sign_ins_on_both_servers_count_against_one_limit(cluster):
    for server in (cluster.a, cluster.b) * (LOGIN_LIMIT // 2):
        response = Person().sign_in(server, cluster.target.email, WRONG_PASSWORD)
        assert response.status_code == 200 and "Email or password is not correct." in response.text

    # Each server saw only half of the failures: counting alone, either would let this one in.
    for server in (cluster.a, cluster.b):
        refused = Person().sign_in(server, cluster.target.email)
        assert refused.status_code == 429, refused.text[:2000]
        assert int(refused.headers["Retry-After"]) > 0
    store = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    assert any(b"login-account" in key for key in store.scan_iter(match=f"{cluster.redis_prefix}*"))


def test_a_receiver_failing_three_times_still_accepts_each_event_once(
        cluster, seller_on_a, agent_on_b):
    request_id = file_request(seller_on_a, cluster.a, cluster.reviews[1], image_bytes("PNG", seed=12))
    claim_and_approve(agent_on_b, cluster.b, request_id)
    receiver = Receiver(fail_first=3)

    with webhook_receiver(receiver) as url:
        outputs = [send_webhooks_once(cluster, url) for _ in range(5)]

    # The review's removal waits behind its decision, which fails three times, then both go.
    assert ["delivered 0, failed 1" in output for output in outputs[:3]] == [True] * 3
    assert "delivered 2, failed 0" in outputs[3] and "delivered 0, failed 0" in outputs[4]
    assert [delivery.status for delivery in receiver.requests] == [503, 503, 503, 204, 204]
    assert all(delivery.verified for delivery in receiver.requests)
    assert receiver.accepted_types() == ["request.decided", "review.removed"]
    assert {delivery.payload["data"]["request_id"] for delivery in receiver.requests} == {request_id}
    events = {event.type.value: event for event in webhook_events(cluster.app)
              if event.request_id == request_id}
    assert sorted(events) == ["request.decided", "review.removed"]
    decided, removed = events["request.decided"], events["review.removed"]
    assert (decided.status, decided.attempts) == (WebhookStatus.DELIVERED, 4)
    assert [(attempt.status_code, attempt.succeeded) for attempt in decided.attempt_log] == [
        (503, False), (503, False), (503, False), (204, True)]
    assert (removed.status, removed.attempts) == (WebhookStatus.DELIVERED, 1)
    assert [(attempt.status_code, attempt.succeeded) for attempt in removed.attempt_log] == [(204, True)]
    assert len({delivery.headers["webhook-id"] for delivery in receiver.requests}) == 2


def test_a_large_screenshot_filed_on_one_server_is_processed_by_a_worker_and_decided_on_the_other(
        cluster, seller_on_a, agent_on_b):
    screenshot = image_bytes("PNG", (480, 300), seed=13)
    request_id = file_request(seller_on_a, cluster.a, cluster.reviews[2], screenshot)
    with cluster.app.app_context():
        (held_name,) = db.session.scalars(select(EvidenceUpload.held_name).where(
            EvidenceUpload.request_id == request_id)).all()
    client = s3_client(cluster.env["S3_ENDPOINT_URL"])
    held = client.get_object(Bucket=cluster.bucket, Key=cluster.prefix + held_name)
    assert held["Body"].read() == screenshot  # held in S3 as received, for any worker

    page = agent_on_b.get(cluster.b, f"/requests/{request_id}")
    assert "Processing…" in page.text and not re.findall(r'href="/evidence/(\d+)"', page.text)
    assert agent_on_b.get(cluster.b, f"/evidence/processing/{request_id}").json() == {"processing": 1}

    # An RQ worker on a third machine, as docs/deployment.md draws it.
    cli(cluster.env, "jobs", "worker", "--burst")

    assert seller_on_a.get(cluster.a, f"/evidence/processing/{request_id}").json() == {"processing": 0}
    page = agent_on_b.get(cluster.b, f"/requests/{request_id}")
    (evidence_id,) = {int(number) for number in re.findall(r'href="/evidence/(\d+)"', page.text)}
    served = agent_on_b.get(cluster.b, f"/evidence/{evidence_id}")
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.convert("RGB").tobytes() == picture((480, 300), seed=13).tobytes()
    listed = client.list_objects_v2(Bucket=cluster.bucket, Prefix=cluster.prefix + held_name)
    assert listed.get("KeyCount", 0) == 0  # the held copy is gone
    claim_and_approve(agent_on_b, cluster.b, request_id)
