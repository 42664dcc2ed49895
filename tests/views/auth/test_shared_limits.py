"""Limits shared by several desk processes in Redis (the machine's, 127.0.0.1:6379): failed
sign-ins through one app count in another; with Redis unreachable, sign-in still works and each
process throttles alone; and gunicorn refuses several workers with the limits in memory://."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from limits import parse
from limits.strategies import MovingWindowRateLimiter

from moderation_app import create_app
from moderation_app.config import PROJECT_ROOT
from moderation_app.extensions import db
from moderation_app.throttle import LockedMemoryStorage
from tests.helpers.accounts import PASSWORD
from tests.helpers.clients import FormClient

WRONG_PASSWORD = "not-the-password-at-all"
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_on(app: Flask) -> Iterator[Callable[[str, str], Flask]]:
    """Another desk process: an app of its own on the same database, its limits in `storage`
    under `prefix`; its connections closed when the test ends."""
    made: list[Flask] = []

    def make(storage: str, prefix: str) -> Flask:
        other = create_app({**app.config, "RATELIMIT_STORAGE_URI": storage,
                            "RATELIMIT_KEY_PREFIX": prefix})
        other.test_client_class = FormClient
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()


@pytest.mark.skipif(not redis_is_up(), reason="needs Redis on 127.0.0.1:6379")
def test_failed_sign_ins_through_two_processes_count_together_in_redis(app, seller, app_on):
    prefix = f"test-{uuid.uuid4().hex}"  # this test's keys only, whoever else uses the Redis
    first, second = app_on(REDIS, prefix), app_on(REDIS, prefix)
    for desk in (first, second):
        desk.config["LOGIN_LIMIT_PER_ACCOUNT"] = "4 per 15 minutes"
    for desk in (first, second, first, second):
        assert desk.test_client().sign_in(seller.email, WRONG_PASSWORD).status_code == 200

    refused = second.test_client().sign_in(seller.email, PASSWORD)

    assert refused.status_code == 429
    # Alone, each process saw two failures: memory:// would have let this one in.
    alone = app_on("memory://", prefix)
    alone.config["LOGIN_LIMIT_PER_ACCOUNT"] = "4 per 15 minutes"
    assert alone.test_client().sign_in(seller.email, PASSWORD).status_code == 302


def test_with_redis_unreachable_sign_in_works_and_each_process_still_throttles(app, seller, caplog,
                                                                              app_on):
    down = app_on(f"redis://127.0.0.1:{closed_port()}/0", "desk-limits")
    down.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"

    assert down.test_client().sign_in(seller.email, PASSWORD).status_code == 302
    for _ in range(3):
        assert down.test_client().sign_in(seller.email, WRONG_PASSWORD).status_code == 200
    refused = down.test_client().sign_in(seller.email, PASSWORD)

    assert refused.status_code == 429
    assert "rate limit storage unreachable (ConnectionError); counting in this process's memory" \
        in caplog.text


def gunicorn(workers: int, **environment: str) -> tuple[int | None, str]:
    """gunicorn as an operator starts it, from the project folder (which holds gunicorn.conf.py):
    its exit status (None if it was still serving after 5 s, then stopped with its workers) and
    what it logged."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "FLASK_RATELIMIT_STORAGE_URI")}
    env.update(SECRET_KEY="gunicorn-conf-test", DATABASE_URL="sqlite://", **environment)
    command = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers),
               "-b", f"127.0.0.1:{closed_port()}", "wsgi:app"]
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stderr=log,
                                  stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            status = server.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it started: that is the answer
            status = None
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        log.seek(0)
        return status, log.read()


def test_gunicorn_refuses_several_workers_with_the_limits_in_memory():
    status, log = gunicorn(2)

    assert status not in (0, None)
    assert "Refusing to start 2 workers with the limits in memory://" in log


def test_gunicorn_starts_several_workers_sharing_redis_and_one_worker_on_memory():
    assert gunicorn(2, REDIS_URL=REDIS)[0] is None
    assert gunicorn(1)[0] is None


def test_clearing_a_count_waits_for_the_expiry_thread_holding_its_key():
    """limits' own clear() pops the key while its expiry thread may be reading it (a KeyError
    that killed the thread): ours takes the key's lock first."""
    memory = LockedMemoryStorage()
    limiter = MovingWindowRateLimiter(memory)
    item = parse("10 per 15 minutes")
    limiter.hit(item, "login-account", "user:1")
    [key] = memory.events
    lock = memory.locks[key]
    lock.acquire()  # as the expiry thread does while it trims the key's hits
    clearing = threading.Thread(target=limiter.clear, args=(item, "login-account", "user:1"))
    clearing.start()
    clearing.join(0.2)
    assert clearing.is_alive() and key in memory.events  # waiting, nothing popped under the lock
    lock.release()
    clearing.join(5)
    assert not clearing.is_alive() and key not in memory.events
