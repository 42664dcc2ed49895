"""The servers under test and what they stand on: a fresh database, a private redis, the process.

Everything listens on 127.0.0.1 only. Each server runs in a process group of its own, so stopping it
(SIGTERM, then SIGKILL after 10 s) takes gunicorn's workers too; callers stop it in a `finally`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
# Environment variables of the caller's shell that would change which app is tested.
APP_VARIABLES = ("DATABASE_URL", "SECRET_KEY", "UPLOAD_DIR", "TRUSTED_HOSTS", "AUDIT_CHECKPOINT_KEY")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_environment(database_url: str, upload_dir: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in APP_VARIABLES and not key.startswith("FLASK_")}
    env.update({"DATABASE_URL": database_url, "UPLOAD_DIR": str(upload_dir),
                "SECRET_KEY": secrets.token_hex(32), "TRUSTED_HOSTS": "127.0.0.1,localhost",
                # Like `make run`: plain http on loopback.
                "FLASK_SESSION_COOKIE_SECURE": "false", **settings})
    return env


def flask_cli(env: dict[str, str], *args: str, stdin: str | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def python_module(env: dict[str, str], module: str, stdin: str,
                  timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


# --- PostgreSQL ---------------------------------------------------------------------------------

def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def create_postgres_database(admin_url: str) -> tuple[str, str]:
    """A new, empty database; (its name, its SQLAlchemy URL)."""
    name = f"load_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(admin_url, name).replace("postgresql://", "postgresql+psycopg://", 1)
    return name, url


def drop_postgres_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- redis --------------------------------------------------------------------------------------

class PrivateRedis:
    """A redis-server of our own on a free loopback port, without persistence: the throttle's
    counters start empty and no other redis user is touched."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self._log = (folder / "redis.log").open("wb")
        self._process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        _stop_group(self._process)
        self._log.close()


# --- the server ---------------------------------------------------------------------------------

def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@dataclass
class Server:
    """One server under test: its command and environment, its log, its process."""

    name: str
    label: str
    command: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    _process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self._process.returncode} on start; "
                                   f"see {self.log_path}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.label} did not answer /healthz within {timeout:.0f} s")

    def stop(self) -> None:
        if self._process is not None:
            _stop_group(self._process)


# The embedded default's server, exactly as the Makefile's `run` target starts it (a test compares
# the two): one process, so the in-memory login throttle counts every attempt, and a fixed pool of
# threads. Werkzeug's `flask run`, a new thread per request, crashed CPython 3.11.7 under this load
# in about one run in four (see docs/benchmarks.md); this server did not in 20 runs.
EMBEDDED_SERVER_ARGS = ("--worker-class", "gthread", "--workers", "1", "--threads", "8")


def embedded(env: dict[str, str], log_path: Path) -> Server:
    """As `make run` serves: gunicorn, one process with a pool of threads, on SQLite."""
    port = free_port()
    return Server("sqlite", "gunicorn, 1 process × 8 threads, SQLite",
                  [str(BIN / "gunicorn"), *EMBEDDED_SERVER_ARGS, "-b", f"127.0.0.1:{port}", "wsgi:app"],
                  env, port, log_path)


def gunicorn(env: dict[str, str], log_path: Path, workers: int = 4) -> Server:
    """As README's production line serves: gunicorn's sync workers."""
    port = free_port()
    return Server("postgres", f"gunicorn -w {workers}, PostgreSQL",
                  [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"],
                  env, port, log_path)
