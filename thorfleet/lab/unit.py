"""One simulated unit: its disk, root file system, stand-ins, network and the process that boots it."""

import os
import signal
import socket
import subprocess
from pathlib import Path

from thorfleet.core.wait import wait_until
from thorfleet.lab import image, layout, network
from thorfleet.lab.layout import UnitLayout
from thorfleet.lab.supervise import remove_own_cgroups
from thorfleet.lab.system import LabError, alive, python, run

STANDINS = Path(__file__).parent / "standins"
UBUNTU_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games:/snap/bin"
# Stand-in (in thorfleet/lab/standins/) → where the real one lives on a Thor, and its mode.
STANDIN_FILES = {
    "nvpmodel": ("/usr/sbin/nvpmodel", 0o755),
    "nvpmodel.conf": ("/etc/nvpmodel.conf", 0o644),
    "jetson_clocks": ("/usr/bin/jetson_clocks", 0o755),
    "nvidia-smi": ("/usr/bin/nvidia-smi", 0o755),
    "nvidia-container-runtime": ("/usr/bin/nvidia-container-runtime", 0o755),
    "nv_tegra_release": ("/etc/nv_tegra_release", 0o644),
    "thorfleet-lab-cgroups.service": ("/etc/systemd/system/thorfleet-lab-cgroups.service", 0o644),
}


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as mounts:
        return any(line.split()[4] == target for line in mounts)


def supervisor_pid(unit: UnitLayout) -> int | None:
    try:
        pid = int(unit.pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return found


def leader_pid(unit: UnitLayout) -> int | None:
    """PID (on the controller) of the unit's systemd, which is PID 1 inside the unit."""
    pending = [pid] if (pid := supervisor_pid(unit)) else []
    while pending:
        current = pending.pop()
        for child in _children(current):
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                    return child
            except FileNotFoundError:
                continue
            pending.append(child)
    return None


def exec_in(unit: UnitLayout, *command: str, check: bool = False) -> subprocess.CompletedProcess:
    """Run a command inside the unit as root, without SSH (for the lab's own checks and faults)."""
    leader = leader_pid(unit)
    if leader is None:
        raise LabError(f"{unit.name} is not running")
    return run("nsenter", "-t", str(leader), "-m", "-u", "-i", "-n", "-p", "--", *command, check=check)


def prepare_disk(unit: UnitLayout) -> None:
    """The unit's own ext4 disk (sparse, loop-mounted) and its root file system over the image."""
    unit.folder.mkdir(parents=True, exist_ok=True)
    if not unit.disk_image.exists():
        with open(unit.disk_image, "wb") as disk:
            disk.truncate(layout.DISK_SIZE_GIB << 30)
        run("mkfs.ext4", "-q", "-F", "-L", unit.name, str(unit.disk_image))
    unit.disk.mkdir(exist_ok=True)
    if not _mounted(unit.disk):
        run("mount", "-o", "loop", str(unit.disk_image), str(unit.disk))
    for sub in ("upper", "work", "docker"):
        (unit.disk / sub).mkdir(exist_ok=True)
    unit.rootfs.mkdir(exist_ok=True)
    if not _mounted(unit.rootfs):
        options = f"lowerdir={image.ROOTFS},upperdir={unit.disk / 'upper'},workdir={unit.disk / 'work'}"
        run("mount", "-t", "overlay", "overlay", "-o", options, str(unit.rootfs))


def _write(path: Path, content: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)
    path.chmod(mode)


def _login_ids(root: Path) -> tuple[int, int]:
    """uid and gid of the login user in the image's /etc/passwd (not the controller's)."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == layout.LOGIN_USER:
            return int(fields[2]), int(fields[3])
    raise LabError(f"the lab image has no user {layout.LOGIN_USER}: remove {image.IMAGE} and run `lab up` again")


def provision(unit: UnitLayout) -> None:
    """Name, SSH keys and Jetson stand-ins; rewritten at every `up`, so a changed stand-in arrives."""
    root = unit.rootfs
    _write(root / "etc/hostname", f"{unit.name}\n".encode(), 0o644)
    _write(root / "etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {unit.name}\n::1 localhost ip6-localhost\n".encode(), 0o644)
    # Ubuntu's login PATH (with the sbin folders, where nvpmodel lives); Debian's has none.
    _write(root / "etc/environment", f'PATH="{UBUNTU_PATH}"\n'.encode(), 0o644)
    host_key = root / "etc/ssh/ssh_host_ed25519_key"
    if not host_key.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{unit.name}", "-f", str(host_key))
    ssh_dir = root / "home" / layout.LOGIN_USER / ".ssh"
    _write(ssh_dir / "authorized_keys", layout.SSH_KEY.with_suffix(".pub").read_bytes(), 0o600)
    ssh_dir.chmod(0o700)
    for path in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, *_login_ids(root))
    for name, (dest, mode) in STANDIN_FILES.items():
        _write(root / dest.lstrip("/"), (STANDINS / name).read_bytes(), mode)
    daemon_json = root / "etc/docker/daemon.json"
    if not daemon_json.exists():  # as JetPack's container toolkit leaves it; afterwards the deploy owns it
        _write(daemon_json, (STANDINS / "docker-daemon.json").read_bytes(), 0o644)
    # The lab's shared compiler cache (a real unit keeps its own, in root's home).
    layout.CCACHE.mkdir(parents=True, exist_ok=True)
    _write(root / "etc/ccache.conf", f"cache_dir = {layout.UNIT_CCACHE}\nmax_size = 5G\n".encode(), 0o644)
    wants = root / "etc/systemd/system/multi-user.target.wants/thorfleet-lab-cgroups.service"
    if not wants.is_symlink():
        wants.symlink_to("/etc/systemd/system/thorfleet-lab-cgroups.service")



def start(unit: UnitLayout) -> None:
    """Boot the unit under its supervisor, unless it is already running."""
    if supervisor_pid(unit):
        return
    with open(unit.console_log, "ab") as console:
        process = subprocess.Popen(
            [python(), "-m", "thorfleet.lab.supervise", unit.name],
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, "THORFLEET_CACHE": str(layout.CACHE)},
        )
    unit.pidfile.write_text(str(process.pid))


def _ssh_port_open(unit: UnitLayout) -> bool:
    try:
        with socket.create_connection((unit.address, 22), timeout=1) as conn:
            return conn.recv(4).startswith(b"SSH")
    except OSError:
        return False


def system_state(unit: UnitLayout) -> str:
    """`systemctl is-system-running` inside the unit, or `stopped`."""
    if leader_pid(unit) is None:
        return "stopped"
    return exec_in(unit, "systemctl", "is-system-running").stdout.strip() or "unknown"


def service_state(unit: UnitLayout, service: str) -> str:
    if leader_pid(unit) is None:
        return "stopped"
    return exec_in(unit, "systemctl", "is-active", service).stdout.strip() or "unknown"


def wait_ready(unit: UnitLayout, timeout: float = 180) -> None:
    """Until systemd has finished booting, and sshd and Docker answer; LabError after `timeout`."""
    state = "stopped"

    def ready() -> bool:
        nonlocal state
        if supervisor_pid(unit) is None:
            raise LabError(f"{unit.name} stopped while booting; see {unit.console_log}")
        state = system_state(unit)
        return state in ("running", "degraded") and _ssh_port_open(unit) and service_state(unit, "docker") == "active"

    if wait_until(ready, timeout) is None:
        raise LabError(f"{unit.name} did not come up in {timeout:.0f} s (systemd: {state}); see {unit.console_log}")
    if state == "degraded":
        failed = exec_in(unit, "systemctl", "--failed", "--plain", "--no-legend").stdout.strip()
        raise LabError(f"{unit.name} booted with failed units: {failed}")


def stop(unit: UnitLayout, timeout: float = 60) -> None:
    """Shut the unit down (orderly, then by force) and wait for its processes to be gone."""
    pid, leader = supervisor_pid(unit), leader_pid(unit)
    if pid:
        os.kill(pid, signal.SIGTERM)  # nspawn passes it on: the unit's systemd powers off
        if not _wait_gone(pid, timeout):
            if leader:
                os.kill(leader, signal.SIGKILL)  # PID 1 of the unit: takes every process in it
            os.killpg(pid, signal.SIGKILL)
            _wait_gone(pid, 10)
    unit.pidfile.unlink(missing_ok=True)


def _wait_gone(pid: int, timeout: float) -> bool:
    return wait_until(lambda: not alive(pid), timeout, interval=0.2) is not None


def destroy(unit: UnitLayout) -> None:
    """Stop the unit and remove all it had: processes, mounts, network, disk, folder."""
    stop(unit)
    remove_own_cgroups(unit)
    for mount_point in (unit.rootfs, unit.disk):
        if _mounted(mount_point):
            run("umount", str(mount_point))
    network.remove_unit_network(unit)
    if unit.folder.exists():
        run("rm", "-rf", "--one-file-system", str(unit.folder))
