"""Files the image_mirror role writes: the registry's configuration and its systemd unit."""

from typing import Any

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.paths import ETC, unit_file
from thorfleet.core.reach import host_port
from thorfleet.core.render import RenderedFile, render_template

PACKAGE = "docker-registry"
DEBIAN_SERVICE = "docker-registry.service"  # starts at install, on every address: masked before the install
SERVICE = "thorfleet-image-mirror"
CONFIG = f"{ETC}/image-mirror.yml"


def plain_files(config: Any) -> list[RenderedFile]:
    mirror = config.image_mirror
    context = {"storage": mirror.storage, "upstream": mirror.upstream, "config": CONFIG,
               "listen": host_port(mirror.bind, mirror.port)}
    return [RenderedFile(CONFIG, render_template("roles/image_mirror/registry.yml.j2", **context), role="image_mirror"),
            RenderedFile(unit_file(SERVICE), render_template("roles/image_mirror/image-mirror.service.j2", **context),
                         role="image_mirror")]


def rendered_files(unit: FleetHost, fleet: FleetView) -> list[RenderedFile]:
    return plain_files(unit.config)
