"""`thorfleet plan INVENTORY`: what a deploy would do on each unit, changing nothing. It is pyinfra's own
change detection (`pyinfra INVENTORY deploy.py --dry --json`: the facts a deploy reads, every
operation prepared and none run), one unit at a time, read back: the operations that would change
something. With it, the diff of each
file the deploy writes (as `thorfleet render` shows it) against the unit's copy; a file that holds a
secret is not shown, only its operation."""

import difflib
import json
import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from thorfleet.core.ssh import ssh_client
from thorfleet.deploy import pyinfra_command
from thorfleet.fleet import Fleet
from thorfleet.host_files import host_files

MISSING = 3  # exit status of the read below when the unit has no such file

PLAN_TIMEOUT_S = 1800
PARALLEL_UNITS = 8  # pyinfra runs at once, one per unit


@dataclass
class UnitPlan:
    changes: list[str] = field(default_factory=list)  # operations that would change something
    error: str = ""  # why nothing could be told about this unit
    diffs: dict[str, str] = field(default_factory=dict)  # file -> its unified diff, unit's copy → what the deploy writes

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.diffs)


def read_plan(payload: dict[str, Any], host: str) -> UnitPlan:
    """One unit's operations with a change, from pyinfra's JSON plan (pyinfra_cli/prints.py,
    build_plan_json). Operations that would run only after another changed (a restart on change) are
    left out: pyinfra lists every one of them on every unit, whether its trigger changes or not."""
    return UnitPlan([op["name"] for op in payload["plan"] if host in op["hosts_with_change"]])


def _reason(output: str) -> str:
    """thorfleet's own line first (an unreadable secret, a refused config), else pyinfra's: a failed
    connection, else its last error."""
    lines = [line.strip() for line in _COLOUR.sub("", output).splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("thorfleet:") and "warning:" not in line]
    connection = [f"could not connect ({m['why']})" for line in lines if (m := _NOT_CONNECTED.search(line))]
    theirs = [line for line in lines if "rror" in line]
    return (ours or connection or theirs or lines or ["no output"])[-1][:400]


_NOT_CONNECTED = re.compile(r"\] Could not connect \((?P<why>.*)\)")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def unit_plan(fleet: Fleet, host: str) -> UnitPlan:
    """`pyinfra INVENTORY deploy.py --dry --json --limit HOST`: one unit alone, so that each operation
    is named as it is on this unit (pyinfra names an operation after any one of the hosts it ran for)."""
    ran = subprocess.run(pyinfra_command(fleet.inventory, "--dry", "--json", "--limit", host), capture_output=True,
                         text=True, timeout=PLAN_TIMEOUT_S)
    start = ran.stdout.find("{")
    if ran.returncode != 0 or start < 0 or f"[{host}] Connected" not in _COLOUR.sub("", ran.stderr):
        return UnitPlan(error=_reason(ran.stderr + ran.stdout))  # never "nothing to do" for a unit not planned
    return read_plan(json.loads(ran.stdout[start:]), host)


def plan(fleet: Fleet, hosts: list[str]) -> dict[str, UnitPlan]:
    """Each unit's plan, the units planned in parallel; a unit that could not be planned has its `error`."""
    with ThreadPoolExecutor(max_workers=min(PARALLEL_UNITS, len(hosts))) as pool:
        return dict(zip(hosts, pool.map(lambda host: unit_plan(fleet, host), hosts)))


def _held_secret(content: str) -> bool:
    return "<secret from " in content  # core.render.shown_secret's placeholder


def file_diffs(fleet: Fleet, host: str) -> dict[str, str]:
    """Each file the deploy writes whole on the unit that differs from the unit's copy, as a unified
    diff; files that hold a secret, and those merged into the unit's own (daemon.json), are left to
    their operation in the plan."""
    rendered = [f for f in host_files(fleet.hosts[host], fleet) if not f.merged and not _held_secret(f.content)]
    client = ssh_client(fleet.hosts[host])
    diffs = {}
    try:
        for file in rendered:
            path = shlex.quote(file.dest)
            _, out, _ = client.exec_command(f"if sudo -n test -e {path}; then sudo -n cat -- {path}; else exit {MISSING}; fi",
                                            timeout=60)
            current = out.read().decode(errors="replace")
            status = out.channel.recv_exit_status()
            if status not in (0, MISSING):
                diffs[file.dest] = f"(could not be read on the unit: exit status {status})"
            elif status == MISSING or current != file.content:
                diffs[file.dest] = "".join(difflib.unified_diff(
                    current.splitlines(keepends=True) if status == 0 else [], file.content.splitlines(keepends=True),
                    f"{host}:{file.dest}" if status == 0 else "/dev/null", f"deploy:{file.dest}"))
    finally:
        client.close()
    return diffs
