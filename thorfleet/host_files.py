"""Every file the deploy writes on one host, from the roles the host applies."""

from roles.docker import files as docker_files
from roles.engines import files as engine_files
from roles.power import files as power_files
from thorfleet.render import RenderedFile

# Roles that write templated files; the others only run commands.
FILE_ROLES = {"power": power_files, "docker": docker_files, "engines": engine_files}


def host_files(config) -> list[RenderedFile]:
    return [f for role in config.roles if role in FILE_ROLES for f in FILE_ROLES[role].rendered_files(config)]
