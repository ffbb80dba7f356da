"""Operations of the power role: the nvpmodel mode (rebooting when it must) and the clocks."""

import re
import shlex
import time
from typing import Any

from pyinfra import logger
from pyinfra.api.command import FunctionCommand, StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File
from pyinfra.facts.systemd import SystemdStatus

from thorfleet.core.failure import failure, log_failure
from thorfleet.core.install import Commands
from thorfleet.core.paths import CLOCKS_UNIT, ORIGINAL_CLOCKS
from thorfleet.core.wait import wait_until
from thorfleet.roles.power.facts import BootId, JetsonClocks, NvpmodelMode, NvpmodelModes
from thorfleet.roles.power.files import JETSON_CLOCKS, unit_paths

# nvpmodel's question when the new mode changes the GPU power-gating mask (jetson-stats nvpmodel.py).
REBOOT_ASKED = re.compile(r"reboot", re.IGNORECASE)
REBOOT_TIMEOUT = 600


def resolve_mode(wanted: int | str, modes: dict[int, str]) -> int:
    """The id of the configured mode (a name as `nvpmodel -q` prints it, or an id) on this unit."""
    for mode_id, name in modes.items():
        if wanted == mode_id or (isinstance(wanted, str) and wanted.upper() == name.upper()):
            return mode_id
    offered = ", ".join(f"{i} {n}" for i, n in sorted(modes.items())) or "none"
    raise ValueError(f"power.mode {wanted!r} is not a mode of this unit (its nvpmodel.conf offers: {offered})")


@operation()
def nvpmodel_mode(mode: int | str, allow_reboot: bool = False) -> Commands:
    """Set the nvpmodel mode when it differs; reboot into it only if nvpmodel asks and the config allows."""
    current = host.get_fact(NvpmodelMode)
    if current is None:
        yield failure("nvpmodel is not installed or `nvpmodel -q` printed no mode: is this a Jetson with JetPack?")
        return
    modes = host.get_fact(NvpmodelModes)["modes"]
    try:
        wanted = resolve_mode(mode, modes)
    except ValueError as err:
        yield failure(str(err))
        return
    if current["id"] == wanted:
        host.noop(f"power mode is already {current['name']} ({wanted})")
        return
    yield FunctionCommand(switch_mode, (wanted, modes[wanted], current["name"], allow_reboot), {})


def switch_mode(state: Any, host: Any, mode_id: int, name: str, was: str, allow_reboot: bool) -> bool:
    """`nvpmodel -m`, answering no to a reboot question; then reboot into the mode or stop and say so."""
    ok, output = host.run_shell_command(StringCommand(f"echo no | nvpmodel -m {mode_id}"), _sudo=True)
    text = f"{output.stdout}\n{output.stderr}".strip()
    if not ok:
        return log_failure(None, host, f"`nvpmodel -m {mode_id}` failed: {text[-400:]}")
    if not REBOOT_ASKED.search(text):
        return True
    if not allow_reboot:
        return log_failure(None, host, (
            f"nvpmodel must reboot the unit to switch from {was} to {name} ({mode_id}); the mode was not changed. "
            f"Set power.allow_reboot: true to let the deploy reboot it, or run `sudo nvpmodel -m {mode_id}` "
            "on the unit and answer YES, then deploy again"
        ))
    host.log_styled(f"nvpmodel asks for a reboot to switch to {name}: rebooting the unit", fg="yellow", log_func=logger.info)
    if not _reboot_into(host, mode_id):
        return log_failure(None, host, f"the unit did not come back within {REBOOT_TIMEOUT} s of the reboot into {name}")
    after = host.get_fact(NvpmodelMode)
    if not after or after["id"] != mode_id:
        return log_failure(None, host, f"after the reboot the power mode is {after and after['name']}, not {name}")
    return True


def _reboot_into(host: Any, mode_id: int) -> bool:
    """Answer YES to nvpmodel detached from the SSH session (it reboots), then reconnect (as server.reboot)."""
    before = host.get_fact(BootId)
    host.run_shell_command(
        StringCommand(f"( sleep 1 && echo YES | nvpmodel -m {mode_id} ) </dev/null >/dev/null 2>&1 &"), _sudo=True
    )
    time.sleep(5)  # nvpmodel has begun the reboot
    host.disconnect()

    def rebooted() -> bool:
        host.connect(show_errors=False)
        return bool(host.connected and host.get_fact(BootId) != before)

    return wait_until(rebooted, REBOOT_TIMEOUT, interval=2) is not None


@operation()
def clocks_locked() -> Commands:
    """Lock the clocks now through the clocks unit (which stores the original clocks first)."""
    clocks = host.get_fact(JetsonClocks)
    if clocks is None:
        yield failure(f"{JETSON_CLOCKS} is missing or `jetson_clocks --show` printed no clocks: is this a Jetson?")
        return
    active = host.get_fact(SystemdStatus).get(f"{CLOCKS_UNIT}.service", False)
    if clocks["locked"] and active:
        host.noop("clocks are locked by the clocks unit")
        return
    yield f"systemctl restart {CLOCKS_UNIT}.service"


@operation()
def clocks_default() -> Commands:
    """Give the clocks back to the power mode: stop and remove the clocks unit, restore the stored clocks."""
    clocks = host.get_fact(JetsonClocks)
    units = [path for path in unit_paths() if host.get_fact(File, path=path)]
    active = host.get_fact(SystemdStatus).get(f"{CLOCKS_UNIT}.service", False)
    stored = bool(host.get_fact(File, path=ORIGINAL_CLOCKS))
    if units:
        yield f"systemctl disable --now {CLOCKS_UNIT}.timer"
    if active:
        yield f"systemctl stop {CLOCKS_UNIT}.service"  # its ExecStop restores the stored clocks
    elif clocks and clocks["locked"] and stored:
        yield f"{JETSON_CLOCKS} --restore {ORIGINAL_CLOCKS}"
    if units:
        yield f"rm -f {shlex.join(units)} && systemctl daemon-reload"
    if not (units or active or (clocks and clocks["locked"] and stored)):
        if clocks and clocks["locked"]:
            host.noop("clocks are locked, but not by thorfleet and no stored clocks exist to restore; a reboot restores them")
        else:
            host.noop("clocks follow the power mode")
