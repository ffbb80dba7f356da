"""What the gateway routes, worked out from the whole inventory: every served model, and for each
the engines behind it that the gateway can reach (docs/gateway.md).

A chat model is routed on the request's `model` field; whisper-server's transcriptions on their
path. An engine listening on loopback is reachable only by a gateway on its own unit: elsewhere it
is listed, with the reason, but not routed.
"""

import re
from dataclasses import dataclass, field

from thorfleet.core.fleet import CHAT, ENGINE_ENDPOINTS, TRANSCRIPTION, FactKey, FleetHost, FleetProblem, FleetView
from thorfleet.core.reach import address_seen_from
from thorfleet.core.types import SecretSource

ROLE = GROUP = "gateway"  # the role, and the inventory group whose hosts run it
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
    serves: str  # CHAT or TRANSCRIPTION
    backends: list[Backend] = field(default_factory=list)
    key: SecretSource | None = None  # the engines' own key, which the gateway sends on

    @property
    def backend(self) -> str:
        return f"{self.serves}.{self.model}"

    @property
    def reachable(self) -> list[Backend]:
        return [b for b in self.backends if b.address]


def routes_for(fleet: FleetView, gateway: str) -> tuple[list[Route], list[FleetProblem]]:
    """(routes, problems) for the gateway on host `gateway`, from every engine of the fleet."""
    routes: dict[str, Route] = {}
    problems = []
    for endpoint in fleet.fact(ENGINE_ENDPOINTS):
        if endpoint.serves not in (CHAT, TRANSCRIPTION):
            continue
        model = endpoint.served_name if endpoint.serves == CHAT else TRANSCRIPTION
        route = routes.setdefault(model, Route(model, endpoint.serves))
        path = ("engines", endpoint.engine)
        if not NAME_RE.match(model) or "'" in model:
            problems.append(FleetProblem(endpoint.unit, path + ("served_name",),
                                         f"{model!r}: the gateway routes only names of letters, digits and _.:-"))
            continue
        address = address_seen_from(fleet.hosts[endpoint.unit].address, endpoint.bind, endpoint.unit == gateway)
        why = "" if address else f"listens on {endpoint.bind} only: bind it to the unit's address (with an api_key) to route it"
        backend = Backend(endpoint.unit, endpoint.engine, address, endpoint.port, endpoint.health_path, why)
        key = endpoint.api_key
        if address and key and route.key and key != route.key:
            problems.append(FleetProblem(endpoint.unit, path + ("api_key",), f"the engines behind the gateway's {model!r} that take "
                                         f"a key must share one api_key source (another takes the {route.key.describe()})"))
            continue
        if address and key:
            route.key = key  # sent to every engine of the route; one without a key ignores it
        route.backends.append(backend)
    return sorted(routes.values(), key=lambda r: (r.serves, r.model)), problems


def fleet_routes(fleet: FleetView) -> dict[str, tuple[list[Route], list[FleetProblem]]]:
    """Each gateway host's routes and the problems found on the way (the ROUTES fact)."""
    return {host.name: routes_for(fleet, host.name) for host in fleet.with_role(ROLE)}


ROUTES: FactKey[dict[str, tuple[list[Route], list[FleetProblem]]]] = FactKey("gateway.routes")


def routes_at(fleet: FleetView, gateway: str) -> list[Route]:
    return fleet.fact(ROUTES)[gateway][0]


def route_problems(fleet: FleetView) -> list[FleetProblem]:
    return list({p: None for _, problems in fleet.fact(ROUTES).values() for p in problems})


def routed_at(fleet: FleetView, unit: str, engine: str) -> list[tuple[FleetHost, Route, Backend]]:
    """(gateway host, route, backend) for each gateway of the fleet that routes this unit's engine."""
    return [(fleet.hosts[gateway], r, b) for gateway, (routes, _) in fleet.fact(ROUTES).items() for r in routes
            for b in r.reachable if (b.unit, b.engine) == (unit, engine)]
