"""Attach the YAML configuration to the hosts of an ordinary pyinfra inventory file.

An inventory file declares its groups as pyinfra does (module-level lists of hosts, or of
`(host, data)` tuples) and ends with `attach_config(globals())`. Each host then carries its
validated `HostConfig` as `host.data.thorfleet`. A configuration error stops pyinfra before
it connects to any host.
"""

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from thorfleet.config import ConfigError, ConfigIssue, HostConfig
from thorfleet.config.errors import merge_hosts
from thorfleet.config.loader import load_host
from thorfleet.config.stray_files import stray_files
from thorfleet.roles.gateway.routes import GROUP as GATEWAY_GROUP, fleet_routes
from thorfleet.roles.monitoring.targets import GROUP as MONITORING_GROUP, fleet_jobs

DATA_KEY = "thorfleet"
_raise_errors = False  # set by the thorfleet CLI, which reports errors itself
_read_secrets = True  # a deploy reads every secret before connecting; `render` and `hosts` need none
_plan_memory = True  # a unit whose engines do not fit is refused; `hosts --memory` shows it instead


@dataclass
class FleetHost:
    name: str
    groups: list[str]
    config: HostConfig
    data: dict = field(default_factory=dict)  # connection data from the inventory file


@dataclass
class Fleet:
    inventory: Path
    config_dir: Path
    hosts: dict[str, FleetHost]
    warnings: list[ConfigIssue] = field(default_factory=list)  # files that apply to nothing, known-slow settings

    def gateways(self) -> list[FleetHost]:
        return [h for h in self.hosts.values() if h.config.applies("gateway")]

    def monitors(self) -> list[FleetHost]:
        return [h for h in self.hosts.values() if h.config.applies("monitoring")]


def config_dir_for(inventory_file: Path) -> Path:
    """group_vars/ and host_vars/ live next to the inventory file, or one folder up (inventory/lab.py)."""
    here = inventory_file.resolve().parent
    for candidate in (here, here.parent):
        if (candidate / "group_vars").is_dir() or (candidate / "host_vars").is_dir():
            return candidate
    return here.parent


def _groups(namespace: dict) -> dict[str, list]:
    """Module-level host groups, in declaration order, by pyinfra's own rules."""
    groups = {}
    for key, value in namespace.items():
        if key.startswith("_"):
            continue
        hosts = value[0] if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict) else value
        if isinstance(hosts, list) and all(isinstance(h, (str, tuple)) for h in hosts):
            groups[key] = hosts
    return groups


def _host_name(entry) -> str:
    return entry[0] if isinstance(entry, tuple) else entry


def build_fleet(namespace: dict, secrets: bool, memory_plan: bool = True) -> Fleet:
    inventory = Path(namespace["__file__"])
    config_dir = config_dir_for(inventory)
    groups = _groups(namespace)
    if MONITORING_GROUP not in groups and GATEWAY_GROUP in groups:
        groups[MONITORING_GROUP] = groups[GATEWAY_GROUP]  # Prometheus on the gateway's hosts unless said otherwise
    file_group = inventory.stem
    membership: dict[str, list[str]] = {}
    connection: dict[str, dict] = {}
    for group, hosts in groups.items():
        for entry in hosts:
            name = _host_name(entry)
            membership.setdefault(name, []).append(group)
            if isinstance(entry, tuple):
                connection.setdefault(name, {}).update(entry[1])
    issues, warnings = stray_files(config_dir, inventory.resolve().parent, set(groups) | {file_group}, set(membership))
    fleet_hosts = {}
    for name, host_groups in membership.items():
        ordered = host_groups + ([file_group] if file_group not in host_groups else [])
        try:
            config, advice = load_host(config_dir, ordered, name, secrets, memory_plan)
        except ConfigError as err:
            issues += err.issues
            continue
        warnings += advice
        config._groups = ordered
        fleet_hosts[name] = FleetHost(name, ordered, config, connection.get(name, {}))
    if not issues:
        issues += _attach_gateway_routes(inventory, fleet_hosts)
        _attach_scrape_jobs(fleet_hosts)
    if issues:
        raise ConfigError(issues)
    return Fleet(inventory, config_dir, fleet_hosts, merge_hosts(warnings))


def _attach_gateway_routes(inventory: Path, hosts: dict[str, FleetHost]) -> list[ConfigIssue]:
    """Give each gateway host the routes to the whole fleet's engines; the problems found on the way."""
    issues = []
    for name, fleet_host in hosts.items():
        if GATEWAY_GROUP in fleet_host.groups:
            routes, problems = fleet_routes(hosts, name)
            fleet_host.config._gateway_routes = routes
            for backend in (b for route in routes for b in route.reachable):
                hosts[backend.unit].config._behind_gateways.setdefault(backend.engine, []).append((fleet_host, backend.server))
            issues += [ConfigIssue(str(inventory), key, reason, (host,)) for host, key, reason in problems]
    return merge_hosts(issues) if issues else []


def _attach_scrape_jobs(hosts: dict[str, FleetHost]) -> None:
    """Give each monitoring host the scrape jobs of the whole fleet."""
    for name, fleet_host in hosts.items():
        if MONITORING_GROUP in fleet_host.groups:
            fleet_host.config._scrape_jobs, fleet_host.config._unscraped = fleet_jobs(hosts, name)


def attach_config(namespace: dict) -> None:
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
    for group, hosts in _groups(namespace).items():
        for index, entry in enumerate(hosts):
            name = _host_name(entry)
            data = {**fleet.hosts[name].data, DATA_KEY: fleet.hosts[name].config}
            hosts[index] = (name, data)


@contextmanager
def _loading_for_the_cli(secrets: bool, memory_plan: bool):
    global _raise_errors, _read_secrets, _plan_memory
    previous = _raise_errors, _read_secrets, _plan_memory
    _raise_errors, _read_secrets, _plan_memory = True, secrets, memory_plan
    try:
        yield
    finally:
        _raise_errors, _read_secrets, _plan_memory = previous


def load_fleet(inventory_file: Path, secrets: bool = True, memory_plan: bool = True) -> Fleet:
    """Run an inventory file as pyinfra would and return its hosts with their configuration;
    `secrets=False` skips reading the secrets, for commands that never use them; `memory_plan=False`
    keeps a unit whose engines do not fit, for the command that shows the plan."""
    if not inventory_file.is_file():
        raise ConfigError([ConfigIssue(str(inventory_file), "", "no such inventory file")])
    namespace = {"__file__": str(inventory_file)}
    code = compile(inventory_file.read_text(encoding="utf-8"), str(inventory_file), "exec")
    with _loading_for_the_cli(secrets, memory_plan):
        exec(code, namespace)
    fleet = namespace.get("_thorfleet_fleet")
    if fleet is None:
        raise ConfigError([ConfigIssue(str(inventory_file), "", "does not call thorfleet.inventory.attach_config(globals())")])
    return fleet
