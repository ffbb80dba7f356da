"""The block fleet_hosts keeps in /etc/hosts, between its two marker lines; the rest of the file is the unit's."""

import ipaddress

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.render import RenderedFile, render_template

HOSTS = "/etc/hosts"
BEGIN = "# BEGIN thorfleet fleet_hosts"
END = "# END thorfleet fleet_hosts"


def entries(unit: FleetHost, fleet: FleetView) -> list[tuple[str, str]]:
    """(address, names) for every other unit known by an IP address, then the configured extras."""
    config = unit.config.fleet_hosts
    found = []
    for host in fleet.hosts.values():
        try:
            ipaddress.ip_address(host.address)
        except ValueError:  # known by a DNS name already
            continue
        if host.name != unit.name:
            names = [host.name] + ([f"{host.name}.{config.domain}"] if config.domain else [])
            found.append((host.address, " ".join(names)))
    return found + sorted((address, name) for name, address in config.extra.items())


def block(unit: FleetHost, fleet: FleetView) -> str:
    return render_template("roles/fleet_hosts/block.j2", begin=BEGIN, end=END, entries=entries(unit, fleet))


def merged(current: str, new_block: str) -> str:
    """The unit's /etc/hosts with the block replaced (or added at the end); every other line kept."""
    lines, kept, inside = current.splitlines(), [], False
    for line in lines:
        if line.startswith(BEGIN):
            inside = True
        elif line.startswith(END):
            inside = False
        elif not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept + ["", new_block.rstrip("\n")]).lstrip("\n") + "\n"


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    return [RenderedFile(HOSTS, block(unit, fleet), mode="644", role="fleet_hosts", merged=True)]
