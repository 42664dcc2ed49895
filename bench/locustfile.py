"""Locust's agents for bench/throughput.py: each reads the queue and opens requests, as one signed-in
agent in many tabs. The runner signs in once (the login throttle allows ten sign-ins per account in
15 minutes) and hands every user that session's cookies and the ids to open, in the environment."""

from __future__ import annotations

import json
import os
import random

from locust import HttpUser, between, task

COOKIES = json.loads(os.environ["THROUGHPUT_COOKIES"])
REQUEST_IDS = [int(value) for value in os.environ["THROUGHPUT_REQUEST_IDS"].split(",")]


class Agent(HttpUser):
    wait_time = between(0, 0.05)

    def on_start(self) -> None:
        for name, value in COOKIES.items():
            self.client.cookies.set(name, value)

    def _get(self, path: str, name: str) -> None:
        # A redirect (to sign-in) or any other answer than 200 counts as a failure, not a page.
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}")

    @task(1)
    def queue(self) -> None:
        self._get("/queue", "/queue")

    @task(1)
    def request_page(self) -> None:
        self._get(f"/requests/{random.choice(REQUEST_IDS)}", "/requests/<id>")
