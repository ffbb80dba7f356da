"""`thorfleet plan INVENTORY`: what a deploy would do on each unit, changing nothing. It is pyinfra's own
change detection (`pyinfra INVENTORY deploy.py --dry --json`: the facts a deploy reads, every
operation prepared and none run), read back per unit: the operations that would change something,
and those that would run only because another did (a restart on change). With it, the diff of each
file the deploy writes (as `thorfleet render` shows it) against the unit's copy; a file that holds a
secret is not shown, only its operation."""

import difflib
import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Any

from thorfleet.core.ssh import ssh_client
from thorfleet.deploy import pyinfra_command
from thorfleet.fleet import Fleet
from thorfleet.host_files import host_files

MISSING = 3  # exit status of the read below when the unit has no such file

PLAN_TIMEOUT_S = 1800


class PlanFailed(Exception):
    """pyinfra could not prepare the deploy (a unit unreachable, a fact that failed): its reason."""


@dataclass
class UnitPlan:
    changes: list[str] = field(default_factory=list)  # operations that would change something
    if_changed: list[str] = field(default_factory=list)  # operations that would run only after a change
    error: str = ""  # why nothing could be told about this unit
    diffs: dict[str, str] = field(default_factory=dict)  # file -> its unified diff, unit's copy → what the deploy writes

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def read_plan(payload: dict[str, Any], hosts: list[str]) -> dict[str, UnitPlan]:
    """pyinfra's JSON plan (`build_plan_json`: per operation, the hosts with a change) per unit."""
    plans = {host: UnitPlan() for host in hosts}
    for operation in payload["plan"]:
        for host in operation["hosts_with_change"]:
            plans.setdefault(host, UnitPlan()).changes.append(operation["name"])
        for host in operation["hosts_with_conditional_change"]:
            plans.setdefault(host, UnitPlan()).if_changed.append(operation["name"])
    return plans


def _reason(output: str) -> str:
    """thorfleet's own line first (an unreadable secret, a refused config), else pyinfra's last error."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("thorfleet:") and "warning:" not in line]
    theirs = [line for line in lines if "rror" in line or "cannot" in line or "Could not" in line]
    return (ours or theirs or lines or ["no output"])[-1][:400]


_NOT_CONNECTED = re.compile(r"\[(?P<host>[^\]]+)\] Could not connect \((?P<why>.*)\)")
_CONNECTED = re.compile(r"\[(?P<host>[^\]]+)\] Connected")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def plan(fleet: Fleet, hosts: list[str]) -> dict[str, UnitPlan]:
    """Each unit's plan; a unit pyinfra could not connect to has its `error`. PlanFailed when there is no
    plan at all."""
    limit = [word for host in hosts for word in ("--limit", host)] if set(hosts) != set(fleet.hosts) else []
    ran = subprocess.run(pyinfra_command(fleet.inventory, "--dry", "--json", *limit), capture_output=True, text=True,
                         timeout=PLAN_TIMEOUT_S)
    said = _COLOUR.sub("", ran.stderr)
    not_connected = {m["host"]: f"could not connect ({m['why']})" for m in _NOT_CONNECTED.finditer(said)}
    # A unit pyinfra never reached has no operations in the plan: that is not "nothing to do".
    connected = {m["host"] for m in _CONNECTED.finditer(said)}
    not_connected |= {host: "pyinfra did not connect to it" for host in hosts if host not in connected | set(not_connected)}
    start = ran.stdout.find("{")
    if ran.returncode != 0 or start < 0:
        raise PlanFailed("; ".join(f"{host}: {why}" for host, why in not_connected.items()) or _reason(ran.stderr + ran.stdout))
    plans = read_plan(json.loads(ran.stdout[start:]), hosts)
    for host, why in not_connected.items():
        plans[host].error = why
    return plans


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
