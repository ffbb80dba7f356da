"""The image_mirror role: Debian's docker-registry as the fleet's pull-through mirror (issue 29)."""

from pyinfra.api.deploy import deploy
from pyinfra.operations import files, systemd

from thorfleet.core.apt import apt_packages
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.install import files_installed
from thorfleet.roles.image_mirror.files import DEBIAN_SERVICE, PACKAGE, SERVICE, plain_files


@deploy("image_mirror")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    mirror = unit.config.image_mirror
    apt_packages(name="docker-registry (its own open service masked)", packages=[PACKAGE], masked=[DEBIAN_SERVICE], _sudo=True)
    folder = files.directory(name=f"Mirror storage {mirror.storage}", path=mirror.storage, user="docker-registry",
                             group="docker-registry", mode="750", _sudo=True)
    installed = files_installed(name="The mirror's configuration and unit", files=plain_files(unit.config), _sudo=True)
    systemd.daemon_reload(name="Reload systemd for the mirror", _sudo=True, _if=installed.did_change)
    systemd.service(name="Mirror restarted for its new configuration", service=SERVICE, running=True, restarted=True,
                    _sudo=True, _if=lambda: installed.did_change() or folder.did_change())
    systemd.service(name=f"Mirror of {mirror.upstream} running and enabled", service=SERVICE, running=True, enabled=True,
                    _sudo=True)
