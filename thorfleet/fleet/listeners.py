"""Every listener of a unit in one table: each role says what it listens on (`Role.listeners`), and
two on one address and port, or an unprivileged service on a port only root may bind, are refused
before anything connects, naming both keys and the files that set them."""

import ipaddress

from thorfleet.core.fleet import FleetHost
from thorfleet.core.role import Listener, Problem, Role
from thorfleet.fleet.errors import ConfigIssue
from thorfleet.fleet.loader import Origin

SSHD = Listener((), "0.0.0.0", 22, "sshd (on every unit)", privileged=True)
FIRST_UNPRIVILEGED_PORT = 1024  # Linux's net.ipv4.ip_unprivileged_port_start, as Ubuntu ships it


def unit_listeners(host: FleetHost, roles: tuple[Role, ...]) -> list[Listener]:
    """What listens on the unit: sshd, then each applied role's listeners, in the deploy's order."""
    return [SSHD, *(listener for role in roles if host.applies(role.name) for listener in role.listeners(host))]


def _overlap(a: str, b: str) -> bool:
    return a == b or ipaddress.ip_address(a).is_unspecified or ipaddress.ip_address(b).is_unspecified


def _named(listener: Listener, origin: Origin) -> str:
    if not listener.key:
        return listener.what
    return f"{listener.what} ({'.'.join(listener.key)}, {origin.files.get(listener.key, 'its default')})"


def listener_issues(host: FleetHost, roles: tuple[Role, ...], origin: Origin) -> list[ConfigIssue]:
    problems: list[Problem] = []
    seen: list[Listener] = []
    for listener in unit_listeners(host, roles):
        taken = next((other for other in seen if other.port == listener.port and _overlap(other.bind, listener.bind)), None)
        seen.append(listener)
        if taken is not None:
            # Blame a port someone wrote over a default one: the default is not what changed.
            if taken.key and listener.key not in origin.files and taken.key in origin.files:
                taken, listener = listener, taken
            problems.append((listener.key, f"port {listener.port} on {listener.bind} is already used by {_named(taken, origin)}"))
        elif listener.port < FIRST_UNPRIVILEGED_PORT and not listener.privileged:
            problems.append((listener.key, f"port {listener.port} is below {FIRST_UNPRIVILEGED_PORT}, which only root may "
                                           f"bind, and {listener.what} runs unprivileged: choose a port from "
                                           f"{FIRST_UNPRIVILEGED_PORT} up"))
    return origin.issues(problems, host.name)
