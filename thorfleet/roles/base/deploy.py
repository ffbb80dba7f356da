"""The base role: packages, SSH access, jetson-stats and Wi-Fi (seed 002's first steps)."""

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.server import User

from thorfleet.core.apt import apt_packages
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.roles.base.operations import authorized_keys, jetson_stats, wifi


@deploy("base")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    base = config.base
    jetpack = f" and JetPack's {', '.join(base.jetpack)}" if base.jetpack else ""
    apt_packages(name=f"{len(base.apt_packages)} apt packages{jetpack}", packages=base.apt_packages, jetpack=base.jetpack,
                 _sudo=True)
    if base.authorized_keys:
        user = host.get_fact(User)
        authorized_keys(name=f"Authorized keys of {user}", user=user, keys=base.authorized_keys, _sudo=True)
    if base.jetson_stats:
        jetson_stats(name=f"jetson-stats {base.jetson_stats_version}", version=base.jetson_stats_version,
                     index_url=base.pip_index_url, _sudo=True)
    if base.wifi:
        password = base.wifi.password.read()
        wifi(name=f"Wi-Fi {base.wifi.ssid}", ssid=base.wifi.ssid, password=password,
             interface=base.wifi.interface, hidden=base.wifi.hidden, _sudo=True)
