"""Every file the deploy writes on one host, from the roles the host applies."""

from thorfleet.core.fleet import FleetHost
from thorfleet.core.render import RenderedFile, project_templates
from thorfleet.fleet import Fleet


def host_files(host: FleetHost, fleet: Fleet) -> list[RenderedFile]:
    with project_templates(fleet.config_dir):
        return [f for role in fleet.roles if host.applies(role.name) for f in role.files(host, fleet)]
