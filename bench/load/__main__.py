"""`python -m bench.load`: run the load test on each server and check the outcome (see __init__)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.load import attacker, fixtures, report, servers, workload
from bench.load import checks as checking
from bench.load.browser import Ledger, Recorder, Sample

SERVERS = ("sqlite", "postgres")
# After the deadline, a user still waiting for an answer gets this long (the client's read
# timeout is 60 s) before the run gives up on it and says so.
DRAIN_SECONDS = 70
# Users start within this many seconds of each other: the morning's sign-ins, not one thundering herd.
RAMP_UP_SECONDS = 5


@dataclass
class Options:
    seconds: float
    servers: list[str]
    agents: int
    sellers: int
    managers: int
    attackers: int
    think: float
    attacker_pause: float
    recent_login_window: int
    postgres_url: str
    out: Path
    keep: bool


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", 60)),
                        help="length of each server's run (default 60, or LOAD_SECONDS)")
    parser.add_argument("--servers", default=os.environ.get("LOAD_SERVERS", ",".join(SERVERS)),
                        help="which servers, in order: sqlite (as make run serves it), postgres (gunicorn -w 4)")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--sellers", type=int, default=50)
    parser.add_argument("--managers", type=int, default=2)
    parser.add_argument("--attackers", type=int, default=8, help="threads guessing one account's password")
    parser.add_argument("--think", type=float, default=0.5,
                        help="each user waits up to this many seconds between actions (managers twice as long)")
    parser.add_argument("--attacker-pause", type=float, default=0.05,
                        help="seconds an attacker thread waits after a 429 before guessing again")
    parser.add_argument("--recent-login-window", type=int, default=10,
                        help="FLASK_RECENT_LOGIN_WINDOW for the run: exports ask for the password "
                             "again after this many seconds, so the managers go through it")
    parser.add_argument("--postgres-url", default=os.environ.get("LOAD_POSTGRES_URL", servers.DEFAULT_POSTGRES),
                        help="a database to connect to for CREATE/DROP DATABASE load_…")
    parser.add_argument("--out", type=Path, help="folder for logs and reports (default bench/out/load-<time>)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the databases and uploads (default: only logs and reports stay)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not chosen or set(chosen) - set(SERVERS):
        parser.error(f"--servers takes some of {', '.join(SERVERS)}")
    # Absolute: the app reads a relative UPLOAD_DIR or SQLite path against its own folders.
    out = (args.out or servers.ROOT / "bench" / "out" / f"load-{datetime.now():%Y%m%d-%H%M%S}").resolve()
    return Options(args.seconds, chosen, args.agents, args.sellers, args.managers, args.attackers,
                   args.think, args.attacker_pause, args.recent_login_window, args.postgres_url, out,
                   args.keep)


def drive(base_url: str, options: Options, people: fixtures.Cast,
          shots: list[fixtures.Screenshot]) -> tuple[list[Sample], Ledger, float, list[str]]:
    """Every user a thread until the deadline; (samples, ledger, seconds, users still stuck)."""
    recorder, ledger = Recorder(), Ledger()
    deadline = time.monotonic() + options.seconds
    setting = workload.Setting(base_url, deadline, recorder, ledger, options.think, shots)
    persons: list[workload.Person] = [
        *(workload.Agent(a, setting, seed) for seed, a in enumerate(people.agents, 100)),
        *(workload.Seller(a, setting, seed) for seed, a in enumerate(people.sellers, 200)),
        *(workload.Manager(a, setting, seed) for seed, a in enumerate(people.managers, 300)),
    ]

    def start_later(person: workload.Person, delay: float) -> None:
        time.sleep(delay)
        person.run()

    threads = [threading.Thread(target=start_later, name=person.account.email, daemon=True,
                                args=(person, index * RAMP_UP_SECONDS / len(persons)))
               for index, person in enumerate(persons)]
    threads += attacker.Attacker(people.target, setting, options.attackers, options.attacker_pause).workers()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline + DRAIN_SECONDS - time.monotonic()))
    elapsed = time.perf_counter() - started
    stuck = [thread.name for thread in threads if thread.is_alive()]
    return recorder.snapshot(), ledger, elapsed, stuck


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def prepare(env: dict[str, str], people: fixtures.Cast, hashes: dict[str, str], folder: Path) -> None:
    reviews = folder / "reviews.jsonl"
    reviews.write_text(fixtures.marketplace_lines(people.sellers))
    steps = [
        ("db upgrade", lambda: servers.flask_cli(env, "db", "upgrade")),
        ("accounts", lambda: servers.python_module(env, "bench.load.seed", fixtures.seed_spec(people, hashes))),
        ("import-marketplace", lambda: servers.flask_cli(env, "import-marketplace", str(reviews))),
    ]
    for name, step in steps:
        result = step()
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def run_one(kind: str, options: Options, people: fixtures.Cast, hashes: dict[str, str],
            shots: list[fixtures.Screenshot]) -> bool:
    folder = options.out / kind
    folder.mkdir(parents=True, exist_ok=True)
    uploads = folder / "uploads"
    redis = database_name = None
    settings = {"FLASK_RECENT_LOGIN_WINDOW": str(options.recent_login_window)}
    try:
        if kind == "sqlite":
            url = f"sqlite:///{folder / 'load.sqlite3'}"
        else:
            database_name, url = servers.create_postgres_database(options.postgres_url)
            redis = servers.PrivateRedis(folder)
            settings["FLASK_RATELIMIT_STORAGE_URI"] = redis.url
        env = servers.app_environment(url, uploads, **settings)
        began = time.perf_counter()
        prepare(env, people, hashes, folder)
        make = servers.embedded if kind == "sqlite" else servers.gunicorn
        server = make(env, folder / "server.log")
        print(f"\n== {server.label}: prepared in {time.perf_counter() - began:.1f} s; "
              f"{options.seconds:.0f} s of load on {server.base_url}", flush=True)
        load_before = os.getloadavg()[0]
        cpu_before = _own_cpu_seconds()
        try:
            server.start()
            samples, ledger, elapsed, stuck = drive(server.base_url, options, people, shots)
        finally:
            stopping = time.perf_counter()
            server.stop()
        harness_cpu = _own_cpu_seconds() - cpu_before
        checking_began = time.perf_counter()
        results = checking.run_checks(url, env, samples, ledger, people.target.email,
                                      len(people.everyone) - 1)
        print(f"(server stopped in {checking_began - stopping:.1f} s, "
              f"checks took {time.perf_counter() - checking_began:.1f} s)")
        if stuck:
            results.append(checking.Check("every user finished by the deadline", False,
                                          f"{len(stuck)} still waiting {DRAIN_SECONDS} s after it: {stuck[:5]}"))
        rows = report.page_figures(samples, elapsed)
        log_errors = report.server_log_errors(server.log_path)
        facts = {kind: len(items) for kind, items in sorted(ledger.facts.items()) if kind != "surprise"}
        print(report.format_figures(rows))
        print(f"\n{elapsed:.1f} s of load; the harness itself used {harness_cpu:.0f} CPU-s; machine load "
              f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; harness saw: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
        if log_errors["tracebacks"] or log_errors["worker_problems"]:
            print(f"server log ({server.log_path}): {json.dumps(log_errors, indent=1)}")
        print(report.format_checks(results), flush=True)
        (folder / "report.json").write_text(json.dumps(
            report.as_json(server.label, elapsed, rows, results, log_errors, facts)
            | {"load_average": [load_before, os.getloadavg()[0]], "harness_cpu_seconds": harness_cpu},
            indent=1, default=str))
        (folder / "surprises.txt").write_text("\n".join(map(str, ledger["surprise"])))
        return all(check.ok for check in results)
    finally:
        if redis is not None:
            redis.stop()
        if not options.keep:
            if database_name is not None:
                servers.drop_postgres_database(options.postgres_url, database_name)
            shutil.rmtree(uploads, ignore_errors=True)
            for leftover in folder.glob("load.sqlite3*"):
                leftover.unlink()


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    people = fixtures.cast(options.agents, options.managers, options.sellers)
    hashes = fixtures.password_hashes(people.everyone, servers.ROOT / "bench" / "out" / "load-password-hashes.json")
    shots = fixtures.screenshots(options.out / "screenshots")
    print(f"load test: {len(people.agents)} agents, {len(people.sellers)} sellers, {len(people.managers)} "
          f"managers, {options.attackers} attacker threads; {len(shots)} screenshots "
          f"({min(len(s.data) for s in shots) // 1024}-{max(len(s.data) for s in shots) // 1024} KB); "
          f"output in {options.out}", flush=True)
    outcome = {}
    for kind in options.servers:
        try:
            outcome[kind] = run_one(kind, options, people, hashes, shots)
        except Exception as error:  # one server failing to start must not hide the other's results
            print(f"\n== {kind}: the run could not be made: {error}", flush=True)
            outcome[kind] = False
    print(f"\nload test finished in {time.perf_counter() - began:.0f} s: "
          + ", ".join(f"{kind} {'passed' if ok else 'FAILED'}" for kind, ok in outcome.items()))
    return 0 if all(outcome.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
