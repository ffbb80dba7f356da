"""One unit's supervisor: boots it with systemd-nspawn and boots it again when it reboots.

`python -m thorfleet.lab.supervise sim-01` runs in the background for as long as the unit is up.
systemd-nspawn exits with 133 when the unit reboots; a real board would come back, so the unit
does too. SIGTERM shuts the unit down in an orderly way (nspawn passes it on to the unit's systemd).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

from thorfleet.lab import layout
from thorfleet.lab.layout import UnitLayout

REBOOT_EXIT = 133
CGROUP_ROOT = Path("/sys/fs/cgroup")


def enter_own_cgroups(unit: UnitLayout) -> None:
    """Move this process (and so the unit) into a cgroup of the unit's own in every hierarchy.

    nspawn gives the unit a cgroup namespace rooted there, so each unit's systemd and Docker
    see (and change) only their own part of the controller's cgroup tree.
    """
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, current = line.split(":", 2)
        name = controllers.removeprefix("name=") or "unified"
        mount = CGROUP_ROOT / name
        if not (mount / "cgroup.procs").exists():
            continue
        parent = mount / current.lstrip("/")
        own = parent / f"thorfleet-lab-{unit.name}"
        own.mkdir(exist_ok=True)
        for inherited in ("cpuset.cpus", "cpuset.mems"):  # an empty cpuset takes no processes
            if (own / inherited).exists() and not (own / inherited).read_text().strip():
                (own / inherited).write_text((parent / inherited).read_text())
        (own / "cgroup.procs").write_text(str(os.getpid()))


def remove_own_cgroups(unit: UnitLayout) -> None:
    """Remove the unit's cgroups (deepest first) once it is stopped; a cgroup with processes stays."""
    for own in CGROUP_ROOT.glob(f"*/**/thorfleet-lab-{unit.name}"):
        for cgroup in sorted((p for p in own.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True) + [own]:
            try:
                cgroup.rmdir()
            except OSError:
                pass


def nspawn_command(unit: UnitLayout) -> list[str]:
    return [
        "systemd-nspawn", "--quiet", "--boot", "-D", str(unit.rootfs), f"--machine={unit.name}",
        "--register=no", "--keep-unit",  # the controller's PID 1 is not systemd
        f"--network-namespace-path=/run/netns/{unit.netns}",
        # Docker inside the unit: all capabilities, bpf and keyring calls (cgroups: enter_own_cgroups).
        "--capability=all", "--system-call-filter=@keyring bpf",
        f"--bind={unit.disk / 'docker'}:/var/lib/docker",
        f"--bind={layout.CCACHE}:{layout.UNIT_CCACHE}",
        "--console=read-only", "--resolv-conf=off", "--timezone=off", "--link-journal=no",
    ]


def main(name: str) -> int:
    unit = layout.unit(name)
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    enter_own_cgroups(unit)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(unit.console_log, "ab", buffering=0) as console:
        while True:
            child = subprocess.Popen(nspawn_command(unit), stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT)
            code = child.wait()
            if stopping or code != REBOOT_EXIT:
                return 0 if stopping else code
            console.write(f"\n[thorfleet lab] {unit.name} rebooted; booting it again\n".encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
