from pyinfra.api.deploy import deploy

from thorfleet.core.fleet import FleetHost, FleetView

from .files import block, entries
from .operations import hosts_block


@deploy("fleet_hosts")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    hosts_block(name=f"/etc/hosts names {len(entries(unit, fleet))} units and extras", block=block(unit, fleet), _sudo=True)
