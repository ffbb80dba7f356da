"""Faults for reliability tests: pull a unit's cable, reboot it, kill a process, fill its disk."""

import json

from thorfleet.core.wait import wait_until
from thorfleet.lab import layout, network
from thorfleet.lab import unit as units
from thorfleet.lab.layout import UnitLayout
from thorfleet.lab.system import LabError

FILL_FILE = "/var/lib/thorfleet-lab-fill"


def cut(unit: UnitLayout) -> None:
    """The unit stays up but nothing reaches it (as with its network cable pulled)."""
    network.set_link(unit, up=False)


def restore(unit: UnitLayout) -> None:
    network.set_link(unit, up=True)


def reboot(unit: UnitLayout, wait: bool = True, timeout: float = 180) -> None:
    """Reboot the unit (its systemd shuts down; the supervisor boots it again) and wait for it."""
    before = units.leader_pid(unit)
    if before is None:
        raise LabError(f"{unit.name} is not running")
    units.exec_in(unit, "systemctl", "reboot")
    if wait:
        wait_for_reboot(unit, before, timeout)


def wait_for_reboot(unit: UnitLayout, leader_before: int, timeout: float = 180) -> None:
    """Until the unit has booted again since `leader_before` was its systemd, and is ready."""
    waited = wait_until(lambda: units.leader_pid(unit) not in (leader_before, None), timeout)
    if waited is None:
        raise LabError(f"{unit.name} did not come back from its reboot in {timeout:.0f} s")
    units.wait_ready(unit, max(timeout - waited, 10))


def kill(unit: UnitLayout, process: str, signal: str = "KILL") -> int:
    """Send `signal` to every process named `process` on the unit; how many there were."""
    found = units.exec_in(unit, "pgrep", "-x", process).stdout.split()
    if found:
        units.exec_in(unit, "pkill", f"-{signal}", "-x", process, check=True)
    return len(found)


def fill_disk(unit: UnitLayout) -> int:
    """Take all free space of the unit's root file system (root's reserve too); bytes taken."""
    script = (
        "import os\n"
        "s = os.statvfs('/'); free = s.f_bfree * s.f_frsize\n"
        f"fd = os.open({FILL_FILE!r}, os.O_WRONLY | os.O_CREAT, 0o600)\n"
        "taken = 0\n"
        "for size in (free, 1 << 26, 1 << 20, 1 << 12):\n"
        "    while True:\n"
        "        try: os.posix_fallocate(fd, taken, size); taken += size\n"
        "        except OSError: break\n"
        "print(taken)\n"
    )
    result = units.exec_in(unit, "python3", "-c", script, check=True)
    return int(result.stdout.strip() or 0)


def free_disk(unit: UnitLayout) -> None:
    units.exec_in(unit, "rm", "-f", FILL_FILE, check=True)


def throttle(bytes_per_second: int | None) -> None:
    """Slow the controller's file transfers down (so that a test can interrupt one), or not (None)."""
    if bytes_per_second:
        layout.HTTP_RATE.write_text(str(bytes_per_second))
    else:
        layout.HTTP_RATE.unlink(missing_ok=True)


def transfers(file_suffix: str = "") -> list[dict]:
    """The file transfers the controller's HTTP server made so far (optionally only files ending so)."""
    if not layout.HTTP_TRANSFERS.exists():
        return []
    found = [json.loads(line) for line in layout.HTTP_TRANSFERS.read_text().splitlines() if line.strip()]
    return [t for t in found if t["file"].endswith(file_suffix)]
