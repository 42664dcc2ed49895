#!/usr/bin/env python3
"""pip-audit for `make security`: fails on a known vulnerability, only warns when it cannot ask.

pip-audit exits 1 both for "found a vulnerability" and for "could not reach the vulnerability
service", and a service that answers 404 (a proxy in front of pypi.org) makes it skip every
package and report "No known vulnerabilities found". So this reads its JSON report instead:

  - any vulnerability in the report: print it, exit 1;
  - packages skipped, or no report because the service was unreachable: a loud warning, exit 0;
  - any other failure (e.g. requirements that do not resolve): pip-audit's own exit status.

Arguments are passed to pip-audit (e.g. `-r requirements.txt --vulnerability-service osv`).
PIP_AUDIT names the pip-audit executable (default: the one next to this Python).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# What a network failure looks like on pip-audit's stderr (requests / urllib3 wording, and
# pip-audit's own message for a connection error).
UNREACHABLE = ("ConnectionError", "NameResolutionError", "Failed to resolve",
               "Max retries exceeded", "Could not connect", "Read timed out",
               "your network may be blocking this service")


def main(args: list[str]) -> int:
    pip_audit = os.environ.get("PIP_AUDIT") or str(Path(sys.executable).with_name("pip-audit"))
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "report.json"
        command = [pip_audit, *args, "--format", "json", "--output", str(report_path),
                   "--progress-spinner", "off"]
        finished = subprocess.run(command, capture_output=True, text=True)
        report = json.loads(report_path.read_text()) if report_path.exists() else None

    if report is None:
        if any(sign in finished.stderr for sign in UNREACHABLE):
            # The traceback says nothing its last line does not.
            print(finished.stderr.strip().splitlines()[-1], file=sys.stderr)
            print("WARNING: pip-audit could not reach the vulnerability service; the dependencies "
                  "were NOT audited.", file=sys.stderr)
            return 0
        sys.stderr.write(finished.stderr)
        return finished.returncode or 1

    dependencies = report.get("dependencies", [])
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixed})")
    if vulnerable:
        print(f"pip-audit: known vulnerabilities in {len(vulnerable)} package(s).", file=sys.stderr)
        return 1
    if skipped:
        print(f"WARNING: pip-audit could not audit {len(skipped)} of {len(dependencies)} "
              "package(s); the vulnerability service did not answer for them:", file=sys.stderr)
        for dep in skipped:
            print(f"  {dep['name']}: {dep['skip_reason']}", file=sys.stderr)
        return 0
    if finished.returncode:
        sys.stderr.write(finished.stderr)
        return finished.returncode
    print(f"pip-audit: no known vulnerabilities in {len(dependencies)} packages.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
