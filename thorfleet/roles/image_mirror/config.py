"""Config of the image_mirror role: a pull-through cache of a registry's public images on one host."""

import ipaddress
from typing import Any, Self

from pydantic import Field, model_validator

from thorfleet.core.fleet import FleetView
from thorfleet.core.reach import host_port
from thorfleet.core.role import Listener
from thorfleet.core.types import AbsPath, BindAddress, KeyProblem, Port, StrictModel, Url

DOCKER_HUB = "https://registry-1.docker.io"


class ImageMirrorConfig(StrictModel):
    """The reference registry (Debian's and Ubuntu's `docker-registry`) in proxy mode: the first unit
    to pull a layer fetches it from `upstream`, every other unit gets it from here (docs/roles/image_mirror.md)."""

    bind: BindAddress = Field("127.0.0.1", description="Address the mirror listens on; the units need the host's LAN "
                              "address, which needs `allow_unauthenticated` (Docker sends no credentials to a mirror).")
    port: Port = Field(5000, description="The mirror's port (HTTP).")
    upstream: Url = Field(DOCKER_HUB, description="The registry it mirrors. Docker asks a mirror only for Docker Hub's "
                          "images (daemon.json `registry-mirrors`), so units use it when this is Docker Hub (or the "
                          "lab's stand-in for it); public images only: the mirror holds no upstream credentials.")
    storage: AbsPath = Field("/var/lib/thorfleet-image-mirror", description="Where the cached layers are kept.")
    allow_unauthenticated: bool = Field(False, description="Explicitly allow a non-loopback `bind`: anyone on the LAN can "
                                        "pull the cached (public) images; nobody can push.")

    @model_validator(mode="after")
    def _exposed_only_when_said(self) -> Self:
        if not ipaddress.ip_address(self.bind).is_loopback and not self.allow_unauthenticated:
            raise KeyProblem("bind", f"{self.bind} is not loopback, and the mirror takes no credentials (Docker sends none "
                                     "to a mirror): set allow_unauthenticated: true to serve the LAN")
        return self


def listeners(host: Any) -> list[Listener]:
    mirror = host.config.image_mirror
    return [Listener(("image_mirror", "port"), mirror.bind, mirror.port, "the image mirror")]


def mirror_urls(fleet: FleetView) -> list[str]:
    """The fleet fact IMAGE_MIRRORS: where units reach the fleet's mirrors of Docker Hub, for daemon.json."""
    urls = []
    for host in fleet.hosts.values():
        mirror = host.config.image_mirror
        if host.applies("image_mirror") and not ipaddress.ip_address(mirror.bind).is_loopback:
            address = host.address if ipaddress.ip_address(mirror.bind).is_unspecified else mirror.bind
            urls.append(f"http://{host_port(address, mirror.port)}")
    return sorted(urls)
