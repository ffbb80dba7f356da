"""What the builds role tells the rest of the fleet: which builds each unit needs (those its native
engines run) and the id of each, which is part of an engine's restart fingerprint."""

from collections.abc import Mapping

from thorfleet.core.fleet import FleetHost, FleetView, endpoints_of
from thorfleet.roles.builds.files import build_id


def needed_builds(host: FleetHost, fleet: FleetView) -> list[str]:
    """The builds (builds.<key>) this host's native engines run, in a fixed order."""
    return sorted({e.build for e in endpoints_of(fleet, host.name) if e.build})


def build_ids(fleet: FleetView) -> Mapping[tuple[str, str], str]:
    return {(host.name, key): build_id(getattr(host.config.builds, key))
            for host in fleet.hosts.values() for key in needed_builds(host, fleet)}
