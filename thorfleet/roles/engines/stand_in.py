"""A rollout's stand-in of an engine on its unit (rollout/outages.py plans them): the engine's installed
systemd unit with only its port moved, written to /run, started and checked as a restart is
(restart.sh), then stopped and removed once the unit is back. Commands for `sudo -n sh -c` over SSH."""

import re
import shlex
from pathlib import Path

from thorfleet.core.paths import unit_file, unit_name
from thorfleet.roles.engines.config import EngineBase
from thorfleet.roles.engines.deploy import health_url
from thorfleet.roles.engines.operations import restart_command

STAND_IN_SCRIPT = (Path(__file__).parent / "stand_in.sh").read_text()


class StandInFailed(Exception):
    """A stand-in could not be made or did not start (the message says why: the engine's own lines)."""


def stand_in_unit(name: str) -> str:
    return unit_name(name) + "-stand-in"


def installed_unit_command(name: str) -> str:
    """Prints the engine's unit file as the unit has it (what runs now, not what the config says)."""
    return f"cat {shlex.quote(unit_file(unit_name(name)))}"


def stand_in_unit_file(name: str, installed: str, port: int, spare: int) -> str:
    """The engine's unit file with its one `--port PORT` (ExecStart's continued lines) moved to `spare`."""
    pattern = re.compile(rf"(?<=\s)--port {port}(?=\s|$)")
    moved, count = pattern.subn(f"--port {spare}", installed)
    if count != 1:
        raise StandInFailed(f"{unit_file(unit_name(name))} has {count} `--port {port}`, not one: no stand-in can be made of it")
    return re.sub(r"^Description=", "Description=stand-in of ", moved, count=1, flags=re.M)


def start_command(name: str, engine: EngineBase, port: int) -> str:
    """Write the stand-in's unit (from standard input) and start it; fails, with the engine's own lines,
    if it does not answer its health check on `port`."""
    url = health_url(engine.model_copy(update={"port": port}))
    write = shlex.join(["sh", "-c", STAND_IN_SCRIPT, "stand-in", stand_in_unit(name), str(port)])
    start = restart_command(stand_in_unit(name), f"thorfleet: starting a stand-in of {name} on port {port}", url,
                            engine.health_timeout).get_raw_value()
    return f"{write} && {start}"


def stop_command(name: str) -> str:
    """Stop the stand-in and remove its unit; nothing to do when there is none."""
    unit = shlex.quote(stand_in_unit(name) + ".service")
    return f"systemctl stop {unit} 2>/dev/null; rm -f /run/systemd/system/{unit} && systemctl daemon-reload"
