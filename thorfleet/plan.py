"""`thorfleet plan INVENTORY`: what a deploy would do on each unit, changing nothing. It is pyinfra's own
change detection (`pyinfra INVENTORY deploy.py --dry --json`: the facts a deploy reads, every
operation prepared and none run), read back per unit: the operations that would change something.
With it, the diff of each
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

from thorfleet.core.fleet import ROUTER
from thorfleet.core.render import holds_shown_secret
from thorfleet.core.ssh import Unreachable, ssh_client
from thorfleet.core.will import WILL
from thorfleet.core.pyinfra_cli import dry_run
from thorfleet.fleet import Fleet
from thorfleet.core.paths import unit_name
from thorfleet.host_files import host_files
from thorfleet.roles.engines.commands import state_record
from thorfleet.roles.engines.deploy import engine_fingerprint, engine_key
from thorfleet.roles.engines.files import engine_files

PLAN_TIMEOUT_S = 1800
PARALLEL_UNITS = 8  # units whose files are read (or that are planned again alone) at once


@dataclass
class UnitPlan:
    changes: list[str] = field(default_factory=list)  # operations that would change something
    error: str = ""  # why nothing could be told about this unit
    diffs: dict[str, str] = field(default_factory=dict)  # file -> its unified diff, unit's copy → what the deploy writes
    restarts: list[str] = field(default_factory=list)  # each engine the deploy would (re)start, and what forces it
    will: list[str] = field(default_factory=list)  # what its operations said they would do (core/will.py): bytes, packages, builds

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


_NOT_CONNECTED = re.compile(r"\[(?P<host>[^\]]+)\] Could not connect \((?P<why>.*)\)")
_CONNECTED = re.compile(r"\[(?P<host>[^\]]+)\] Connected")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _pyinfra_plan(fleet: Fleet, hosts: list[str], started: "subprocess.Popen[str] | None" = None
                  ) -> tuple[dict[str, UnitPlan], list[str]]:
    """`pyinfra INVENTORY deploy.py --dry --json [--limit HOST ...]` (`started` already, or now), read per
    unit, and the units with a change that pyinfra named after another host. A unit pyinfra did not
    connect to has an `error`: it is never "nothing to do"."""
    process = started or dry_run(fleet.inventory, hosts if set(hosts) != set(fleet.hosts) else None)
    try:
        stdout, stderr = process.communicate(timeout=PLAN_TIMEOUT_S)
    finally:
        if process.poll() is None:  # timed out, or interrupted
            process.kill()
    said = _COLOUR.sub("", stderr)
    connected = {m["host"] for m in _CONNECTED.finditer(said)}
    not_connected = {m["host"]: f"could not connect ({m['why']})" for m in _NOT_CONNECTED.finditer(said)}
    start = stdout.find("{")
    if process.returncode != 0 or start < 0:
        return {host: UnitPlan(error=not_connected.get(host) or _reason(stderr + stdout)) for host in hosts}, []
    payload = json.loads(stdout[start:])
    plans = {host: read_plan(payload, host) if host in connected else
             UnitPlan(error=not_connected.get(host, "pyinfra did not connect to it")) for host in hosts}
    for said_line in said.splitlines():
        if (match := WILL.search(said_line)) and match["host"] in plans:
            plans[match["host"]].will.append(match["what"].strip())
    shared = [host for host in hosts if any(host in op["hosts_with_change"] and len(op["names"]) > 1 for op in payload["plan"])]
    return plans, shared


def plan(fleet: Fleet, hosts: list[str], started: "subprocess.Popen[str] | None" = None) -> dict[str, UnitPlan]:
    """Each unit's plan and file diffs. One pyinfra run (`started` already, for these hosts, or now)
    plans every unit while the files are read; a unit with a change that pyinfra named after another
    host (it names an operation after any one of the hosts it ran for) is planned again alone, so that
    its operations carry its own names."""
    with ThreadPoolExecutor(max_workers=min(PARALLEL_UNITS, len(hosts)) + 1) as pool:
        planning = pool.submit(_pyinfra_plan, fleet, hosts, started)
        reading = {host: pool.submit(_diffs, fleet, host) for host in hosts}
        plans, shared = planning.result()
        if len(hosts) > 1:
            plans.update(zip(shared, pool.map(lambda host: _pyinfra_plan(fleet, [host])[0][host], shared)))
        for host, planned in plans.items():
            diffs, restarts, unreachable = reading[host].result()
            if not planned.error:
                planned.diffs, planned.restarts, planned.error = diffs, restarts, unreachable
    return plans


def _diffs(fleet: Fleet, host: str) -> tuple[dict[str, str], list[str], str]:
    try:
        diffs, restarts = file_diffs(fleet, host)
        return diffs, restarts, ""
    except Unreachable as err:
        return {}, [], str(err)


def file_diffs(fleet: Fleet, host: str) -> tuple[dict[str, str], list[str]]:
    """Each file the deploy writes whole on the unit that differs from the unit's copy, as a unified
    diff (files that hold a secret, and those merged into the unit's own (daemon.json), are left to
    their operation in the plan); and each engine the deploy would (re)start, with what forces it."""
    rendered = [f for f in host_files(fleet.hosts[host], fleet) if not f.merged and not holds_shown_secret(f.content)]
    client = ssh_client(fleet.hosts[host])
    diffs = {}
    try:
        found = read_files(client, [file.dest for file in rendered])
        for file in rendered:
            if isinstance(found, int):
                diffs[file.dest] = f"(could not be read on the unit: exit status {found})"
                continue
            current = found[file.dest]
            if current != file.content:
                diffs[file.dest] = "".join(difflib.unified_diff(
                    current.splitlines(keepends=True) if current is not None else [], file.content.splitlines(keepends=True),
                    f"{host}:{file.dest}" if current is not None else "/dev/null", f"deploy:{file.dest}"))
        restarts = engine_restarts(fleet, host, client)
    finally:
        client.close()
    return diffs, restarts


# Each file's size in bytes then its content, or -1 for a file that is not there: one command for all.
_READ_FILES = 'for f in "$@"; do if [ -e "$f" ]; then wc -c < "$f" && cat -- "$f" || exit 1; else echo -1; fi; done'


def read_files(client: Any, paths: list[str]) -> dict[str, str | None] | int:
    """Each file's content on the unit (None: not there), read as root in one command; or the command's
    exit status when it failed (sudo refused, a file unreadable)."""
    _, out, _ = client.exec_command(shlex.join(["sudo", "-n", "sh", "-c", _READ_FILES, "sh", *paths]), timeout=60)
    data = out.read()
    status = out.channel.recv_exit_status()
    if status:
        return int(status)
    found: dict[str, str | None] = {}
    position = 0
    for path in paths:
        end = data.index(b"\n", position)
        size, position = int(data[position:end]), end + 1
        found[path] = data[position:position + size].decode(errors="replace") if size >= 0 else None
        position += max(size, 0)
    return found


def engine_restarts(fleet: Fleet, host: str, client: Any) -> list[str]:
    """The engines whose fingerprint (what the engines role restarts on) differs from the one the unit
    recorded at their last start, or that are not running: 'ENGINE: FIELD old → new, …'."""
    unit = fleet.hosts[host]
    found: list[str] = []
    if not unit.applies("engines"):
        return found
    for name, engine in unit.config.engines.items():
        wanted = engine_fingerprint(unit, fleet, engine, engine_files(unit.config, name, engine), engine_key(engine))
        service = shlex.quote(unit_name(name) + ".service")
        _, out, _ = client.exec_command(f"systemctl is-active --quiet {service} || echo stopped; "
                                        f"sudo -n cat {shlex.quote(state_record(name))} 2>/dev/null", timeout=60)
        said = out.read().decode(errors="replace")
        stopped = said.startswith("stopped")
        try:
            running = json.loads(said.removeprefix("stopped").strip() or "null") or {}
        except ValueError:
            running = {}
        changed = [_field_change(k, running.get(k), wanted[k]) for k in wanted if running.get(k) != wanted[k]]
        reloads = engine.kind == ROUTER and not stopped and [k for k in wanted if running.get(k) != wanted[k]] == ["preset"]
        if changed or stopped:
            found.append(f"{name}: " + (", ".join(changed) if changed and running else "not started yet" if not running
                                        else "not running") + (" (reloaded, not restarted: only its changed models unload)"
                                                               if reloads else ""))
    return found


def _field_change(field_name: str, old: Any, new: Any) -> str:
    """A fingerprint field that changed; digests of files and keys only by name (their diff is shown)."""
    if field_name in ("unit", "env", "preset"):
        return f"its {field_name} file"
    if field_name == "key":
        return "its API key"
    return f"{field_name} {_short(old)} → {_short(new)}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
