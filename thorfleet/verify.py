"""`thorfleet verify INVENTORY`: the testinfra suite (tests/verify/) against an inventory's hosts,
with a summary per host."""

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

SUITE = Path(__file__).resolve().parents[1] / "tests" / "verify"


def run_suite(inventory: str, limit: str | None, hosts: list[str]) -> tuple[int, dict[str, Counter], list[str]]:
    """(pytest's exit status, per host: passed/failed/skipped counts, the failures' ids)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.xml"
        command = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider", "--rootdir",
                   str(SUITE.parents[1]), "--inventory", inventory, f"--junitxml={report}"]
        if limit:
            command += ["--limit", limit]
        status = subprocess.call(command)
        if not report.exists():
            return status, {}, []
        tree = ElementTree.parse(report)
    per_host: dict[str, Counter] = {h: Counter() for h in hosts}
    failures = []
    for case in tree.iter("testcase"):
        test_id = case.get("name", "")
        param = test_id[test_id.find("[") + 1:-1] if "[" in test_id else ""
        host = next((h for h in sorted(hosts, key=len, reverse=True) if param == h or param.startswith(h + "-")), None)
        if host is None:
            continue
        outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
        per_host[host][outcome] += 1
        if outcome == "failed":
            failures.append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{test_id}")
    return status, per_host, failures
