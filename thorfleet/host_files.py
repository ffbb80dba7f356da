"""Every file the deploy writes on one host, from the roles the host applies."""

from thorfleet.core.render import RenderedFile
from thorfleet.roles import ROLES


def host_files(config) -> list[RenderedFile]:
    return [f for role in ROLES if config.applies(role.name) for f in role.files(config)]
