"""The power role: MAXN (or the configured mode) and clocks locked at every boot (seed 002)."""

from pyinfra.api.deploy import deploy
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.core.install import files_installed
from thorfleet.core.paths import CLOCKS_UNIT
from thorfleet.roles.power.files import rendered_files
from thorfleet.roles.power.operations import clocks_default, clocks_locked, nvpmodel_mode


@deploy("power")
def apply(unit: FleetHost, fleet: FleetView) -> None:
    config = unit.config
    power = config.power
    mode = nvpmodel_mode(name=f"Power mode {power.mode}", mode=power.mode, allow_reboot=power.allow_reboot, _sudo=True)
    if power.clocks == "default":
        clocks_default(name="Clocks back to the power mode's defaults", _sudo=True)
        return
    installed = files_installed(name="Clocks units", files=rendered_files(unit, fleet), _sudo=True)
    systemd.daemon_reload(name="Reload systemd for the clocks unit", _sudo=True, _if=installed.did_change)
    systemd.service(name=f"Clocks timer {CLOCKS_UNIT}.timer ({power.clocks_boot_delay} s after boot)",
                    service=f"{CLOCKS_UNIT}.timer", running=None, enabled=True, _sudo=True)
    clocks_locked(name="Clocks locked", _sudo=True)
    # A new mode (or a new clocks unit) has other maximums: lock again.
    systemd.service(name="Clocks locked again for the new mode or unit", service=f"{CLOCKS_UNIT}.service",
                    running=True, restarted=True, _sudo=True,
                    _if=any_changed(mode, installed))
