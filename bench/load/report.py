"""Figures per page (count, requests/s, p50/p95/p99/max latency, statuses), the server log's errors,
and the checks, as text for the terminal and as JSON for the run's folder."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path

from bench.load.browser import Sample
from bench.load.checks import Check

UNHANDLED = re.compile(r"unhandled error (\w+) on (\w+ \S+)")
# gunicorn: a worker killed for taking too long, or dying. (SIGTERM is the run's own shutdown.)
WORKER_PROBLEM = re.compile(r"\[CRITICAL\].*|WORKER TIMEOUT.*|Worker \(pid:\d+\) (?:was sent SIG(?!TERM)|exited).*")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def page_figures(samples: list[Sample], seconds: float) -> list[dict[str, object]]:
    by_page: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_page[sample.page].append(sample)
    rows = []
    for page, group in sorted(by_page.items(), key=lambda item: item[0].split(" ", 1)[1] + item[0]):
        times = [sample.seconds * 1000 for sample in group]
        rows.append({"page": page, "count": len(group), "per_second": len(group) / seconds,
                     "p50_ms": percentile(times, 0.50), "p95_ms": percentile(times, 0.95),
                     "p99_ms": percentile(times, 0.99), "max_ms": max(times),
                     "statuses": dict(sorted(Counter(str(s.status) for s in group).items()))})
    times = [sample.seconds * 1000 for sample in samples]
    if times:
        rows.append({"page": "all", "count": len(samples), "per_second": len(samples) / seconds,
                     "p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95),
                     "p99_ms": percentile(times, 0.99), "max_ms": max(times),
                     "statuses": dict(sorted(Counter(str(s.status) for s in samples).items()))})
    return rows


def format_figures(rows: list[dict[str, object]]) -> str:
    header = f"{'page':<48} {'count':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses"
    lines = [header, "-" * len(header)]
    for row in rows:
        statuses = " ".join(f"{status}x{count}" for status, count in row["statuses"].items())
        lines.append(f"{row['page']:<48} {row['count']:>6} {row['per_second']:>7.2f} {row['p50_ms']:>8.0f} "
                     f"{row['p95_ms']:>8.0f} {row['p99_ms']:>8.0f} {row['max_ms']:>8.0f}  {statuses}")
    return "\n".join(lines)


def server_log_errors(log: Path) -> dict[str, object]:
    """Tracebacks in the server's log: how many, the exception lines, the failing pages."""
    text = log.read_text(errors="replace") if log.exists() else ""
    exceptions: Counter = Counter()
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            for following in lines[number + 1:]:
                if following and not following.startswith((" ", "\t", "Traceback", "During handling",
                                                           "The above exception")):
                    exceptions[following.strip()[:240]] += 1
                    break
    return {"tracebacks": text.count("Traceback (most recent call last)"),
            "exceptions": dict(exceptions.most_common(12)),
            "unhandled_pages": dict(Counter(page for _, page in UNHANDLED.findall(text)).most_common(12)),
            "worker_problems": dict(Counter(m.group(0)[:160] for m in WORKER_PROBLEM.finditer(text)).most_common(6))}


def format_checks(checks: list[Check]) -> str:
    return "\n".join(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}" for check in checks)


def as_json(label: str, seconds: float, rows: list[dict[str, object]], checks: list[Check],
            log_errors: dict[str, object], facts: dict[str, int]) -> dict[str, object]:
    return {"server": label, "seconds": seconds, "pages": rows, "checks": [asdict(c) for c in checks],
            "server_log": log_errors, "ledger": facts}
