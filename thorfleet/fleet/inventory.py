"""Attach the YAML configuration to the hosts of an ordinary pyinfra inventory file, and build the
fleet view (core/fleet.py) from it.

An inventory file declares its groups as pyinfra does (module-level lists of hosts, or of
`(host, data)` tuples) and ends with `attach_config(globals())`. Each host's configuration is loaded
and validated, the roles' fleet facts and fleet-wide problems are worked out, and each host then
carries its `FleetHost` and the `FleetView` in its pyinfra host data. A configuration error stops
pyinfra before it connects to any host.
"""

import codecs
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.role import Role
from thorfleet.fleet.errors import ConfigError, ConfigIssue, merge_hosts
from thorfleet.fleet.identity import identity_problems
from thorfleet.fleet.listeners import listener_issues
from thorfleet.fleet.loader import Origin, load_host
from thorfleet.fleet.project_roles import project_roles
from thorfleet.fleet.schema import host_config_model
from thorfleet.fleet.stray_files import stray_files
from thorfleet.roles import ROLES

HOST_KEY = "thorfleet"  # pyinfra host data: the host's FleetHost
FLEET_KEY = "thorfleet_fleet"  # pyinfra host data: the FleetView
_raise_errors = False  # set by the thorfleet CLI, which reports errors itself
_read_secrets = True  # a deploy reads every secret before connecting; `render` and `hosts` need none
_plan_memory = True  # a unit whose engines do not fit is refused; `hosts --memory` shows it instead


class Fleet(FleetView):
    """The fleet view, with what loading it found: the roles (thorfleet's, then the project's own) and
    warnings (files that apply to nothing, settings known to be slow), each naming its file."""

    def __init__(self, inventory: Path, config_dir: Path, hosts: dict[str, FleetHost], roles: tuple[Role, ...],
                 memory_plan: bool = True):
        super().__init__(inventory, config_dir, hosts, {key.name: provide for role in roles for key, provide in role.fleet.items()},
                         memory_plan)
        self.roles = roles
        self.warnings: list[ConfigIssue] = []


def config_dir_for(inventory_file: Path) -> Path:
    """group_vars/ and host_vars/ live next to the inventory file, or one folder up (inventory/lab.py)."""
    here = inventory_file.resolve().parent
    for candidate in (here, here.parent):
        if (candidate / "group_vars").is_dir() or (candidate / "host_vars").is_dir():
            return candidate
    return here.parent


def _groups(namespace: dict[str, Any]) -> dict[str, list[Any]]:
    """Module-level host groups, in declaration order, by pyinfra's own rules."""
    groups: dict[str, list[Any]] = {}
    for key, value in namespace.items():
        if key.startswith("_"):
            continue
        hosts = value[0] if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict) else value
        if isinstance(hosts, list) and all(isinstance(h, (str, tuple)) for h in hosts):
            groups[key] = hosts
    return groups


def _host_name(entry: str | tuple[str, dict[str, Any]]) -> str:
    return entry[0] if isinstance(entry, tuple) else entry


def _applied_roles(roles: tuple[Role, ...], config: Any, groups: list[str], declared: set[str]) -> tuple[str, ...]:
    """The roles the host applies: those its config names, and for a group role only on that
    group's hosts (or, when the inventory declares no such group, its `group_default`'s)."""
    def in_group(role: Role) -> bool:
        if role.group is None:
            return True
        group = role.group if role.group in declared or role.group_default is None else role.group_default
        return group in groups

    return tuple(role.name for role in roles if role.name in config.roles and in_group(role))


def build_fleet(namespace: dict[str, Any], secrets: bool, memory_plan: bool = True) -> Fleet:
    inventory = Path(namespace["__file__"])
    config_dir = config_dir_for(inventory)
    groups = _groups(namespace)
    file_group = inventory.stem
    membership: dict[str, list[str]] = {}
    connection: dict[str, dict[str, Any]] = {}
    for group, entries in groups.items():
        for entry in entries:
            name = _host_name(entry)
            membership.setdefault(name, []).append(group)
            if isinstance(entry, tuple):
                connection.setdefault(name, {}).update(entry[1])
    roles = ROLES + project_roles(config_dir)
    model = host_config_model(roles)
    issues, warnings = stray_files(config_dir, inventory.resolve().parent, set(groups) | {file_group}, set(membership))
    issues += identity_problems(inventory, groups)
    hosts: dict[str, FleetHost] = {}
    origins: dict[str, Origin] = {}
    for name, host_groups in membership.items():
        ordered = host_groups + ([file_group] if file_group not in host_groups else [])
        try:
            config, origins[name] = load_host(config_dir, ordered, name, secrets, model)
        except ConfigError as err:
            issues += err.issues
            continue
        hosts[name] = FleetHost(name, tuple(ordered), config, connection.get(name, {}),
                                _applied_roles(roles, config, ordered, set(groups)))
    if issues:
        raise ConfigError(issues)
    fleet = Fleet(inventory, config_dir, hosts, roles, memory_plan)
    for role in roles:
        for problem in role.fleet_problems(fleet):
            issues += origins[problem.host].issues([(problem.key, problem.reason)], problem.host)
    for host in hosts.values():
        issues += listener_issues(host, roles, origins[host.name])
    if issues:
        raise ConfigError(issues)
    for host in hosts.values():
        for role in roles:
            if host.applies(role.name):
                warnings += origins[host.name].issues(role.advice(host, fleet), host.name)
    fleet.warnings = merge_hosts(warnings)
    return fleet


def attach_config(namespace: dict[str, Any]) -> None:
    """Validate every host's configuration and hand it to pyinfra as host data."""
    try:
        fleet = build_fleet(namespace, _read_secrets, _plan_memory)
    except ConfigError as err:
        if _raise_errors:
            raise
        print(f"thorfleet: {namespace['__file__']}: {err.format()}", file=sys.stderr)
        raise SystemExit(2)
    if not _raise_errors:
        for warning in fleet.warnings:
            print(f"thorfleet: warning: {warning}", file=sys.stderr)
    namespace["_thorfleet_fleet"] = fleet
    for entries in _groups(namespace).values():
        for index, entry in enumerate(entries):
            host = fleet.hosts[_host_name(entry)]
            entries[index] = (host.name, {**host.connection, HOST_KEY: host, FLEET_KEY: fleet})


@contextmanager
def _loading_for_the_cli(secrets: bool, memory_plan: bool) -> Iterator[None]:
    global _raise_errors, _read_secrets, _plan_memory
    previous = _raise_errors, _read_secrets, _plan_memory
    _raise_errors, _read_secrets, _plan_memory = True, secrets, memory_plan
    try:
        yield
    finally:
        _raise_errors, _read_secrets, _plan_memory = previous


def load_fleet(inventory_file: Path, secrets: bool = True, memory_plan: bool = True) -> Fleet:
    """Run an inventory file as pyinfra would and return its fleet view; `secrets=False` skips reading
    the secrets, for commands that never use them; `memory_plan=False` keeps a unit whose engines do
    not fit, for the command that shows the plan."""
    if not inventory_file.is_file():
        raise ConfigError([ConfigIssue(str(inventory_file), "", "no such inventory file")])
    namespace: dict[str, Any] = {"__file__": str(inventory_file)}
    source = inventory_file.read_bytes()
    if source.startswith(codecs.BOM_UTF8):
        raise ConfigError([ConfigIssue(str(inventory_file), "", "starts with a byte-order mark, which pyinfra cannot read (it stops "
                                                               "at 'invalid non-printable character U+FEFF'): save it as UTF-8 without one")])
    try:
        code = compile(source, str(inventory_file), "exec")
    except SyntaxError as err:
        raise ConfigError([ConfigIssue(str(inventory_file), "", f"is not valid Python: line {err.lineno}: {err.msg}")]) from None
    with _loading_for_the_cli(secrets, memory_plan):
        try:
            exec(code, namespace)
        except (ConfigError, SystemExit):
            raise
        except Exception as err:  # the user's inventory code: any failure is one line naming the file
            raise ConfigError([ConfigIssue(str(inventory_file), "", f"failed to run: {type(err).__name__}: {err}")]) from None
    fleet = namespace.get("_thorfleet_fleet")
    if not isinstance(fleet, Fleet):
        raise ConfigError([ConfigIssue(str(inventory_file), "", "does not call thorfleet.inventory.attach_config(globals())")])
    return fleet
