"""What a role exports to the rest of thorfleet, in one place (its package's `ROLE`).

The registry (thorfleet/roles/__init__.py) lists the roles in the order the deploy applies them;
from it come HostConfig's keys, the deploy, `thorfleet render`'s files, the configuration reference
and the verify suite.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from thorfleet.core.fleet import FactKey, FleetHost, FleetProblem, FleetView
from thorfleet.core.render import RenderedFile

KeyPath = tuple[str, ...]
Problem = tuple[KeyPath, str]  # (key path in the host's config, reason)


def _no_files(host: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    return []


def _no_problems(config: Any) -> Iterable[Problem]:
    return ()


def _no_fleet_problems(fleet: FleetView) -> Iterable[FleetProblem]:
    return ()


def _no_advice(host: FleetHost, fleet: FleetView) -> Iterable[Problem]:
    return ()


@dataclass(frozen=True)
class Listener:
    """One address and port a role's service listens on, by the key that sets the port."""

    key: KeyPath
    bind: str
    port: int
    what: str  # e.g. "engine qwen3-8b", "node exporter"
    # Whether it binds as root (or with CAP_NET_BIND_SERVICE), so that a port below 1024 is open to it.
    privileged: bool = False


def _no_listeners(host: FleetHost) -> Iterable[Listener]:
    return ()


@dataclass(frozen=True)
class Role:
    name: str
    # HostConfig keys this role owns: key -> (annotation, pydantic Field with default and description).
    config: dict[str, tuple[Any, Any]]
    # Its pyinfra @deploy, called with the host (its validated config in `.config`) and the fleet view.
    apply: Callable[..., Any]  # a pyinfra @deploy: (host, fleet)
    # Every file it writes on a host, rendered from the config (daemon.json: the overlay it merges, labelled so).
    files: Callable[[FleetHost, FleetView], list[RenderedFile]] = _no_files
    # Checks across its keys and other roles' keys that a single model cannot make.
    problems: Callable[[Any], Iterable[Problem]] = _no_problems
    # Module of its testinfra checks (`thorfleet verify`); None when it has none.
    checks: str | None = None
    # Settings that are valid but known to be a mistake (slow, oversized): warnings, (key path, reason).
    advice: Callable[[FleetHost, FleetView], Iterable[Problem]] = _no_advice
    # The inventory group whose hosts alone apply it (the gateway); None: every host whose `roles` name it.
    group: str | None = None
    # When the inventory declares no `group`, the group whose hosts apply it instead (monitoring: the gateway's).
    group_default: str | None = None
    # The fleet facts it provides (core/fleet.py), each computed from the whole fleet before anything connects.
    fleet: Mapping[FactKey[Any], Callable[[FleetView], Any]] = field(default_factory=dict)
    # What only the whole fleet shows (a route no gateway can serve): refused before anything connects.
    fleet_problems: Callable[[FleetView], Iterable[FleetProblem]] = _no_fleet_problems
    # What it listens on, on a host that applies it (fleet/listeners.py keeps one table per unit).
    listeners: Callable[[FleetHost], Iterable[Listener]] = _no_listeners
    # Whether no host goes on to the next role before this one is done on every host of the deploy (pyinfra
    # orders two hosts' different operations by their depth alone): the image mirror, before any unit pulls.
    barrier: bool = False
    # Debian packages it always installs (the lab's image carries them, so that units converge offline).
    packages: tuple[str, ...] = ()
