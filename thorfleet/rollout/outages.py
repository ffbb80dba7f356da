"""Models a rollout would leave without a server, and the stand-ins that keep them served.

A model all of whose units behind a gateway are drained in the same batch (one replica, or all its
replicas in one batch) would answer 503 until that batch is back. Where the unit's memory plan has
room for its engine twice, a *stand-in* covers it: a copy of the engine as it runs now, started on
the same unit on another port (its port + STAND_IN_PORT_OFFSET) and added to the gateway before the
unit is drained, removed once the unit is back (docs/rollout.md). Pure data from the fleet view, the
batches and the units that would change; rollout/steps.py starts and stops them.
"""

from dataclasses import dataclass, field

from thorfleet.core.fleet import FleetView
from thorfleet.roles.engines.config import NativeEngine
from thorfleet.roles.engines.fleet import memory_room
from thorfleet.roles.engines.memory import gib
from thorfleet.roles.gateway.routes import ROUTES, Route

STAND_IN_PORT_OFFSET = 1000  # a stand-in listens on its engine's port + this, on the same address


@dataclass(frozen=True)
class StandIn:
    """A copy of one engine of `unit`, on `port`, added to each (gateway, backend) while the unit is out."""

    unit: str
    engine: str
    port: int
    servers: tuple[tuple[str, str, str], ...]  # (gateway host, backend, address the gateway reaches the unit at)


@dataclass
class Cover:
    """What a rollout's batches leave without a server (`lost`, a line each) and the stand-ins, by unit, that
    keep the other models served (`stand_ins`), each said once in `covered`."""

    lost: list[str] = field(default_factory=list)
    stand_ins: dict[str, list[StandIn]] = field(default_factory=dict)
    covered: list[str] = field(default_factory=list)


def cover(fleet: FleetView, batches: list[list[str]], changing: set[str]) -> Cover:
    """For each model that loses every server while a batch is drained: a stand-in of one of its engines
    where one can start, else a line in `lost` that says why none could."""
    found = Cover()
    chosen: dict[tuple[str, str], StandIn] = {}
    for gateway, (routes, _) in fleet.fact(ROUTES).items():
        for route in routes:
            units = sorted({b.unit for b in route.reachable})
            for number, batch in enumerate(batches, 1):
                if not units or not set(units) <= set(batch) & changing:
                    continue
                while_out = f"while {', '.join(units)} {'is' if len(units) == 1 else 'are'} drained in batch {number}"
                stand_in, why = _stand_in_for(fleet, route, chosen)
                if stand_in is None:
                    found.lost.append(f"{route.model} (at the gateway {gateway}) has no other server {while_out}: {why}")
                    continue
                chosen[stand_in.unit, stand_in.engine] = stand_in
                found.covered.append(f"{route.model} (at the gateway {gateway}) is served by a stand-in of {stand_in.unit}'s "
                                     f"{stand_in.engine} on port {stand_in.port} {while_out}")
    for stand_in in chosen.values():
        found.stand_ins.setdefault(stand_in.unit, []).append(_with_every_server(fleet, stand_in))
    return found


def _stand_in_for(fleet: FleetView, route: Route, chosen: dict[tuple[str, str], StandIn]) -> tuple[StandIn | None, str]:
    """A stand-in for one of the route's engines (one chosen already, for another model of a router,
    first), or None and why none fits."""
    reasons = []
    for backend in sorted(route.reachable, key=lambda b: (b.unit, b.engine) not in chosen):
        if (backend.unit, backend.engine) in chosen:
            return chosen[backend.unit, backend.engine], ""
        config = fleet.hosts[backend.unit].config
        engine = config.engines[backend.engine]
        port = engine.port + STAND_IN_PORT_OFFSET
        taken = [name for name, other in config.engines.items() if port in other.ports]
        if not isinstance(engine, NativeEngine):
            reasons.append(f"{backend.engine} is a container engine, which thorfleet does not start twice")
        elif taken:
            reasons.append(f"a stand-in of {backend.engine} would listen on {port}, which engine {taken[0]} uses")
        else:
            twice = [name for unit, name in chosen if unit == backend.unit] + [backend.engine]
            needed, room = memory_room(fleet.hosts[backend.unit], fleet, twice)
            if needed is None:
                reasons.append(f"{backend.unit}'s memory plan is not known on this controller (`thorfleet hosts INVENTORY "
                               "--memory` asks the hub once), so no stand-in can be started beside it")
            elif needed > room:
                reasons.append(f"{backend.unit} has no room for a second {backend.engine}: its engines and the stand-in(s) "
                               f"need {gib(needed)} GiB of its {gib(room)} GiB")
            else:
                return StandIn(backend.unit, backend.engine, port, ()), ""
    return None, "; ".join(reasons)


def _with_every_server(fleet: FleetView, stand_in: StandIn) -> StandIn:
    """The stand-in with each backend, at each gateway, that routes its engine (a router's: one a model)."""
    servers = tuple((gateway, route.backend, backend.address or "")
                    for gateway, (routes, _) in fleet.fact(ROUTES).items() for route in routes
                    for backend in route.reachable if (backend.unit, backend.engine) == (stand_in.unit, stand_in.engine))
    return StandIn(stand_in.unit, stand_in.engine, stand_in.port, servers)
