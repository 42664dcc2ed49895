"""The database going away: a clear 503 page (never a traceback or a 500), nothing half-written,
and the desk working again by itself once the database is back."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from moderation_app import create_app
from moderation_app.extensions import db
from moderation_app.models import AuditEvent
from moderation_app.models.users import Role
from tests.helpers.accounts import make_user
from tests.helpers.clients import FormClient, signed_in
from tests.helpers.database import PG_SCHEMA, TEST_DATABASE_URL, base_test_config


def assert_unavailable_page(response) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Temporarily unavailable" in body and "cannot reach its database" in body
    assert response.headers["Retry-After"] == "30"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Traceback" not in body and "OperationalError" not in body


def signed_in_agent(app: Flask) -> FormClient:
    return signed_in(app, make_user(app, "agent@example.com", Role.AGENT))


def claim_events(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "request.claimed"))


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the database file is SQLite's own outage")
def test_sqlite_file_gone_gives_503_then_the_desk_recovers(app):
    client = signed_in_agent(app)
    database_file = Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    parked = database_file.with_suffix(".parked")

    # The file vanishes and nothing can open one in its place (a directory sits there).
    with app.app_context():
        db.engine.dispose()
    database_file.rename(parked)
    database_file.mkdir()
    try:
        assert_unavailable_page(client.get("/queue"))
        monitor = app.test_client().get("/healthz")
        assert monitor.status_code == 503
        assert monitor.get_json() == {"status": "error", "database": "unreachable"}
    finally:
        database_file.rmdir()
        parked.rename(database_file)

    # Back: the same session works again, no restart needed.
    assert client.get("/queue").status_code == 200


class TcpProxy:
    """A cable between the app and PostgreSQL that a test can pull out and plug back in."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one, as a crashed server would."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
            listener, self._listener = self._listener, None
        for sock in [listener, *sockets]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def proxied_app(app: Flask, tmp_path: Path) -> Iterator[tuple[Flask, TcpProxy]]:
    """An app that reaches the test database through the proxy (`app` cleans the tables up)."""
    real = make_url(TEST_DATABASE_URL)
    proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432))
    proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    config = base_test_config(url, tmp_path / "uploads")
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "pool_pre_ping": True, "hide_parameters": True,
        "connect_args": {"options": f"-csearch_path={PG_SCHEMA}", "connect_timeout": 3},
    }
    proxied = create_app(config)
    proxied.test_client_class = FormClient
    yield proxied, proxy
    proxy.stop()
    with proxied.app_context():
        db.engine.dispose()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs a database server to lose")
def test_postgres_lost_mid_request_gives_503_leaves_nothing_and_recovers(proxied_app):
    app, proxy = proxied_app
    client = signed_in_agent(app)
    token = client.csrf_token()

    # Pull the cable in the middle of a request: after it has started talking to the database.
    with app.app_context():
        engine = db.engine

    armed = [True]

    def cut_after_first_statement(*_args) -> None:
        if armed:
            armed.clear()
            proxy.stop()

    event.listen(engine, "after_cursor_execute", cut_after_first_statement)
    assert_unavailable_page(client.post("/queue/next", data={"csrf_token": token}))

    # Still down: pages answer 503 until it is back.
    assert_unavailable_page(client.get("/queue"))
    assert app.test_client().get("/healthz").status_code == 503

    proxy.start()
    assert client.get("/queue").status_code == 200
    assert claim_events(app) == 0
