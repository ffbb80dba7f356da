"""The unit_metrics role: Debian's node exporter, listening only where configured, and the Jetson
collector feeding its textfile folder."""

from pyinfra.api.deploy import deploy
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from thorfleet.core.apt import apt_packages
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.install import files_installed
from thorfleet.core.paths import JETSON_METRICS_UNIT
from thorfleet.core.secret_file import secret_file
from thorfleet.roles.unit_metrics.files import PACKAGE, SERVICE, WEB_CONFIG, plain_files, web_config_file


@deploy("unit_metrics")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    apt_packages(name="node exporter", packages=[PACKAGE], _sudo=True)
    web = web_config_file(config)
    if web:
        auth = secret_file(name="node exporter's basic authentication (a bcrypt hash)", path=WEB_CONFIG, content=web,
                           group="prometheus", mode="640", _sudo=True)
    else:
        auth = files.file(name="No basic authentication file", path=WEB_CONFIG, present=False, _sudo=True)
    installed = files_installed(name="node exporter's arguments and the Jetson collector", files=plain_files(config), _sudo=True)
    systemd.daemon_reload(name="Reload systemd for the Jetson collector", _sudo=True, _if=installed.did_change)
    systemd.service(name=f"Jetson collector every {config.unit_metrics.interval_s} s", service=f"{JETSON_METRICS_UNIT}.timer",
                    running=True, enabled=True, restarted=True, _sudo=True, _if=installed.did_change)
    systemd.service(name="Jetson collector timer running and enabled", service=f"{JETSON_METRICS_UNIT}.timer",
                    running=True, enabled=True, _sudo=True)
    systemd.service(name="node exporter restarted for its new arguments", service=SERVICE, running=True, restarted=True,
                    _sudo=True, _if=any_changed(installed, auth))
    systemd.service(name="node exporter running and enabled", service=SERVICE, running=True, enabled=True, _sudo=True)
