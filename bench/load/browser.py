"""One simulated person's browser over real HTTP, the recorder every request reports to, and the
ledger of what the harness saw happen (held against the database afterwards).

Redirects are followed by hand, so each page is timed on its own and the redirect's target is known.
Every request is bounded: the run's deadline is checked before it starts (RunOver ends the user's
loop) and it has connect and read timeouts.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FLASH = re.compile(r'<div class="flash flash-(\w+)" role="status">(.*?)</div>', re.S)
ERROR_ID = re.compile(r"Error id: <code>(\w+)</code>")
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
# (connect, read) seconds: a request stuck longer than this is a failure of its own.
TIMEOUT = (5, 60)
_NUMBER = re.compile(r"/\d+(?=/|$)")
_REVIEW = re.compile(r"^/seller/reviews/[^/]+/")


class RunOver(Exception):
    """The run's deadline passed: the user stops."""


def page_name(method: str, path: str) -> str:
    """`POST /requests/17/decision` -> `POST /requests/<id>/decision`: one line per page."""
    path = urlsplit(path).path
    path = _REVIEW.sub("/seller/reviews/<review>/", path)
    return f"{method} {_NUMBER.sub('/<id>', path)}"


def local_target(response: requests.Response) -> str:
    """A redirect's Location as a local path with its query (the app may send it absolute)."""
    parts = urlsplit(response.headers.get("Location", ""))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def flashes(response: requests.Response | None) -> list[tuple[str, str]]:
    if response is None:
        return []
    return [(kind, html.unescape(" ".join(text.split()))) for kind, text in FLASH.findall(response.text)]


@dataclass(frozen=True)
class Sample:
    page: str
    status: int | str  # an HTTP status, or the name of the exception when none came back
    seconds: float


@dataclass(frozen=True)
class Surprise:
    """A response the user did not expect: the page, what came back, and a hint (error id, flash)."""

    who: str
    page: str
    status: int | str
    note: str


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: list[Sample] = []

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)


class Ledger:
    """Named lists of facts (`sign_in`: emails, `filed`: request ids, ...), appended from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.facts: dict[str, list[Any]] = defaultdict(list)

    def add(self, kind: str, fact: Any) -> None:
        with self._lock:
            self.facts[kind].append(fact)

    def __getitem__(self, kind: str) -> list[Any]:
        return self.facts.get(kind, [])


def _hint(response: requests.Response) -> str:
    if not response.headers.get("Content-Type", "").startswith("text/html"):
        return response.headers.get("Content-Type", "")
    text = response.text
    for pattern in (ERROR_ID, TITLE):
        match = pattern.search(text)
        if match:
            hint = " ".join(match.group(1).split())
            return f"error id {hint}" if pattern is ERROR_ID else hint
    return ""


class Browser:
    def __init__(self, base_url: str, who: str, recorder: Recorder, ledger: Ledger,
                 deadline: float, label_suffix: str = "") -> None:
        self.base_url = base_url
        self.who = who
        self.recorder = recorder
        self.ledger = ledger
        self.deadline = deadline
        self.label_suffix = label_suffix
        self.http = requests.Session()
        self.csrf = ""

    def second_tab(self) -> Browser:
        """The same session in another tab (a double click posts from both)."""
        tab = Browser(self.base_url, self.who, self.recorder, self.ledger, self.deadline,
                      self.label_suffix)
        tab.http.cookies.update(self.http.cookies)
        tab.csrf = self.csrf
        return tab

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,),
             after_deadline: bool = False, **kwargs: Any) -> requests.Response | None:
        if time.monotonic() >= self.deadline and not after_deadline:
            raise RunOver
        page = page_name(method, path) + self.label_suffix
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base_url + path, allow_redirects=False,
                                         timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            status = type(error).__name__
            self.recorder.add(Sample(page, status, time.perf_counter() - started))
            self.ledger.add("surprise", Surprise(self.who, page, status, str(error)[:200]))
            return None
        self.recorder.add(Sample(page, response.status_code, time.perf_counter() - started))
        if response.status_code not in expect:
            self.ledger.add("surprise", Surprise(self.who, page, response.status_code, _hint(response)))
        if response.headers.get("Content-Type", "").startswith("text/html"):
            match = CSRF_INPUT.search(response.text)
            if match:
                self.csrf = match.group(1)
        return response

    def get(self, path: str, expect: tuple[int, ...] = (200,),
            after_deadline: bool = False) -> requests.Response | None:
        return self.call("GET", path, expect, after_deadline)

    def post(self, path: str, fields: dict[str, str], expect: tuple[int, ...] = (302, 303),
             files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
             after_deadline: bool = False) -> requests.Response | None:
        return self.call("POST", path, expect, after_deadline,
                         data={"csrf_token": self.csrf, **fields}, files=files)

    def follow(self, response: requests.Response | None,
               expect: tuple[int, ...] = (200,)) -> requests.Response | None:
        """The redirect after a form belongs to the same action: it is followed even past the
        deadline, so what the user was told (the flash) is known."""
        if response is None or response.status_code not in (301, 302, 303):
            return None
        return self.get(local_target(response), expect, after_deadline=True)
