"""What the gateway routes, worked out from the whole inventory: every served model, and for each
the engines behind it that the gateway can reach (docs/gateway.md).

A chat model is routed on the request's `model` field; whisper-server's transcriptions on their
path. An engine listening on loopback is reachable only by a gateway on its own unit: elsewhere it
is listed, with the reason, but not routed.
"""

import re
from dataclasses import dataclass, field

from thorfleet.core.reach import address_seen_from
from thorfleet.core.types import SecretSource
from thorfleet.roles.engines.commands import served_name

GROUP = "gateway"  # the inventory group whose hosts run the gateway
TRANSCRIPTION = "transcription"  # the route of whisper-server engines (by path, not by model name)
# HAProxy names (backends, servers) and quoted strings: what the rendered config accepts as it is.
NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
KEY_RE = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


@dataclass(frozen=True)
class Backend:
    """One engine of one unit, as the gateway sees it."""

    unit: str
    engine: str
    address: str | None  # None: not reachable from the gateway (why says why)
    port: int
    health_path: str
    why: str = ""

    @property
    def server(self) -> str:
        """Its HAProxy server name: the unit first, so that a rollout drains a unit by prefix."""
        return f"{self.unit}.{self.engine}"


@dataclass
class Route:
    model: str  # the name clients ask for, or TRANSCRIPTION
    serves: str  # "chat" or "transcription"
    backends: list[Backend] = field(default_factory=list)
    key: SecretSource | None = None  # the engines' own key, which the gateway sends on

    @property
    def backend(self) -> str:
        return f"{self.serves}.{self.model}"

    @property
    def reachable(self) -> list[Backend]:
        return [b for b in self.backends if b.address]


def _address(unit_address: str, engine, same_host: bool) -> tuple[str | None, str]:
    address = address_seen_from(unit_address, engine.bind, same_host)
    return address, "" if address else f"listens on {engine.bind} only: bind it to the unit's address (with an api_key) to route it"


def fleet_routes(hosts: dict, gateway: str) -> tuple[list[Route], list[tuple[str, str, str]]]:
    """(routes, problems as (host, key path, reason)) for the gateway on host `gateway`; `hosts` is the
    fleet's {name: FleetHost}."""
    routes: dict[str, Route] = {}
    problems = []
    for name, fleet_host in hosts.items():
        unit_address = fleet_host.data.get("ssh_hostname", name)
        for engine_name, engine in fleet_host.config.engines.items():
            if engine.serves not in ("chat", TRANSCRIPTION):
                continue
            model = served_name(engine_name, engine) if engine.serves == "chat" else TRANSCRIPTION
            route = routes.setdefault(model, Route(model, engine.serves))
            path = ("engines", engine_name)
            if not NAME_RE.match(model) or "'" in model:
                problems.append((name, ".".join(path + ("served_name",)), f"{model!r}: the gateway routes only names of letters, digits and _.:-"))
                continue
            address, why = _address(unit_address, engine, name == gateway)
            backend = Backend(name, engine_name, address, engine.port, engine.health_path, why)
            if address and engine.api_key and route.key and engine.api_key != route.key:
                problems.append((name, ".".join(path + ("api_key",)), f"the engines behind the gateway's {model!r} that take a key "
                                 f"must share one api_key source (another takes the {route.key.describe()})"))
                continue
            if address and engine.api_key:
                route.key = engine.api_key  # sent to every engine of the route; one without a key ignores it
            route.backends.append(backend)
    return sorted(routes.values(), key=lambda r: (r.serves, r.model)), problems


def routed_at(fleet, unit: str, engine: str) -> list:
    """(gateway host, route, backend) for each gateway of the fleet that routes this unit's engine."""
    return [(g, r, b) for g in fleet.gateways() for r in g.config.gateway_routes() for b in r.reachable
            if (b.unit, b.engine) == (unit, engine)]
