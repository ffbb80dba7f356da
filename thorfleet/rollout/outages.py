"""Models a rollout would leave without a server: a model all of whose units behind a gateway are
drained in the same batch (one replica, or all its replicas in one batch) answers 503 until that
batch is back. Pure data from the fleet view, the batches and the units that would change."""

from thorfleet.core.fleet import FleetView
from thorfleet.roles.gateway.routes import ROUTES


def outages(fleet: FleetView, batches: list[list[str]], changing: set[str]) -> list[str]:
    """One line per model and batch: which model loses every server, while which units are drained."""
    found = []
    for gateway, (routes, _) in fleet.fact(ROUTES).items():
        for route in routes:
            units = sorted({b.unit for b in route.reachable})
            for number, batch in enumerate(batches, 1):
                if units and set(units) <= set(batch) & changing:
                    found.append(f"{route.model} (at the gateway {gateway}) has no other server while "
                                 f"{', '.join(units)} {'is' if len(units) == 1 else 'are'} drained in batch {number}")
    return found
