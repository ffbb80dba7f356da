"""On the unit, at the end of each deploy: a revision recorded when the unit's fingerprint is not its
newest one's, the oldest beyond KEEP removed. Each is two files in REVISIONS_DIR (root only):
NNNN-FINGERPRINT.tar.gz, then NNNN-FINGERPRINT.json, written last, so that a listed revision is whole."""

import json
import re
from datetime import datetime, timezone
from io import BytesIO, StringIO
from typing import Any

from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.fleet import FleetHost
from thorfleet.core.install import Commands
from thorfleet.core.paths import REVISIONS_DIR
from thorfleet.fleet import Fleet
from thorfleet.revisions import KEEP
from thorfleet.revisions.snapshot import Snapshot, snapshot

NAME_RE = re.compile(r"^(\d{4,})-([0-9a-f]{12})\.json$")


def revision_name(number: int, fingerprint: str) -> str:
    return f"{number:04d}-{fingerprint[:12]}"


class Revisions(FactBase[list[tuple[int, str]]]):
    """The revisions recorded on the unit, oldest first: (number, fingerprint's first 12 digits)."""

    @staticmethod
    def default() -> list[tuple[int, str]]:
        return []  # no output: no revision yet

    def command(self) -> str:
        return f"ls -1 {REVISIONS_DIR} 2>/dev/null || true"

    def process(self, output: list[str]) -> list[tuple[int, str]]:
        found = [(int(m[1]), m[2]) for line in output if (m := NAME_RE.match(line.strip()))]
        return sorted(found)


@operation()
def revision_recorded(taken: Snapshot, host_name: str, keep: int = KEEP) -> Commands:
    found = host.get_fact(Revisions)
    if found and found[-1][1] == taken.fingerprint[:12]:
        host.noop(f"revision {revision_name(*found[-1])} is the unit's configuration")
        return
    number = found[-1][0] + 1 if found else 1
    name = revision_name(number, taken.fingerprint)
    manifest = {"number": number, "name": name, "fingerprint": taken.fingerprint, "host": host_name,
                "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"), "inventory": taken.inventory,
                "files": taken.files}
    yield StringCommand("install", "-d", "-m", "700", REVISIONS_DIR)
    for suffix, data in ((".tar.gz", BytesIO(taken.archive)), (".json", StringIO(json.dumps(manifest, sort_keys=True) + "\n"))):
        dest = f"{REVISIONS_DIR}/{name}{suffix}"
        yield FileUploadCommand(data, dest, remote_temp_filename=host.get_temp_filename(dest))
        yield StringCommand("chmod", "600", QuoteString(dest))
    old = [f"{REVISIONS_DIR}/{revision_name(*r)}{suffix}" for r in found[:max(0, len(found) + 1 - keep)] for suffix in (".json", ".tar.gz")]
    if old:
        yield StringCommand("rm", "-f", *map(QuoteString, old))


def record(unit: FleetHost, fleet: Fleet) -> None:
    """The deploy's last operation on every unit."""
    taken = snapshot(unit, fleet)
    revision_recorded(name="Revision recorded", taken=taken, host_name=unit.name, _sudo=True)


def manifests(lines: list[str]) -> list[dict[str, Any]]:
    """The manifests `cat`ed one a line, oldest first; a line that is not one is left out."""
    found = []
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("number"), int) and isinstance(data.get("name"), str):
            found.append(data)
    return sorted(found, key=lambda m: m["number"])
