"""Every file the deploy writes on one host, from the roles the host applies."""

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.render import RenderedFile
from thorfleet.roles import ROLES


def host_files(host: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    return [f for role in ROLES if host.applies(role.name) for f in role.files(host, fleet)]
