"""The attacker: threads guessing one account's password through the sign-in form."""

from __future__ import annotations

import threading
import time

from bench.load.browser import Browser, RunOver
from bench.load.fixtures import Account
from bench.load.workload import Setting


class Attacker:
    """Threads posting wrong passwords for one account, as fast as the server answers. They start
    together (a barrier) so their first guesses race the throttle; after a refusal each waits `pause`,
    so the attack does not starve everyone else of the two cores."""

    def __init__(self, target: Account, setting: Setting, threads: int, pause: float) -> None:
        self.target = target
        self.setting = setting
        self.threads = threads
        self.pause = pause
        self.barrier = threading.Barrier(threads)

    def workers(self) -> list[threading.Thread]:
        return [threading.Thread(target=self.run, args=(number,), name=f"attacker-{number}", daemon=True)
                for number in range(self.threads)]

    def run(self, number: int) -> None:
        browser = Browser(self.setting.base_url, f"attacker-{number}", self.setting.recorder,
                          self.setting.ledger, self.setting.deadline, label_suffix=" (attacker)")
        guess = 0
        try:
            browser.get("/login")
            try:
                self.barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass
            while True:
                guess += 1
                response = browser.post("/login", {"email": self.target.email,
                                                   "password": f"wrong-guess-{number}-{guess:06d}"},
                                        expect=(200, 429))
                if response is None:
                    continue
                if response.status_code == 200 and "Email or password is not correct" in response.text:
                    self.setting.ledger.add("attacker_checked", number)
                elif response.status_code == 429:
                    self.setting.ledger.add("attacker_refused", number)
                    if time.monotonic() + self.pause >= self.setting.deadline:
                        return
                    time.sleep(self.pause)
                elif response.status_code == 302:
                    self.setting.ledger.add("attacker_signed_in", number)
                    browser.http.cookies.clear()
                    browser.get("/login")
        except RunOver:
            pass
