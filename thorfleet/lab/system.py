"""Running commands on the controller, and what the lab needs of it (root, Linux, a few tools)."""

import os
import platform
import shutil
import subprocess
import sys
import time
from collections import deque

from rich.console import Console


class LabError(Exception):
    """Something the lab cannot do; the CLI prints it as one line, without a traceback."""


# Tool → Debian package that has it; `lab up` installs what is missing.
HOST_TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "mkfs.ext4": "e2fsprogs",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "git": "git",
    "uftp": "uftp",  # the fleet's fan-out (model_store.fetch: auto or fleet) sends from the controller
    "docker-registry": "docker-registry",  # the lab's stand-in for Docker Hub, which the image mirror proxies
    "skopeo": "skopeo",  # puts the stand-in images into it
}
# Debian's uftp and docker-registry packages start open daemons at install: masked before they can start.
MASKED_FIRST = {"uftp": "/etc/systemd/system/uftp.service", "docker-registry": "/etc/systemd/system/docker-registry.service"}


def require_root_linux() -> None:
    if platform.system() != "Linux":
        raise LabError(f"the lab needs Linux (network namespaces, systemd-nspawn); this is {platform.system()}")
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, systemd-nspawn): run it with sudo or as root")


def ensure_host_tools(log=print) -> None:
    """Install the Debian packages that provide missing tools, so that `lab up` needs no manual set-up."""
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if not shutil.which(tool)})
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise LabError(f"missing tools and no apt-get to install them: install the packages {', '.join(missing)}")
    log(f"installing the controller's lab tools: {', '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for package in missing:
        if package in MASKED_FIRST and not os.path.lexists(MASKED_FIRST[package]):
            os.makedirs(os.path.dirname(MASKED_FIRST[package]), exist_ok=True)
            os.symlink("/dev/null", MASKED_FIRST[package])
    for args in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        result = subprocess.run(args, env=env, capture_output=True, text=True)
        if result.returncode:
            raise LabError(f"{' '.join(args)} failed: {result.stderr.strip().splitlines()[-1:]}")


def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, capturing its output; a failure raises LabError with the command and its last words."""
    result = subprocess.run(list(args), capture_output=True, text=True, **kwargs)
    if check and result.returncode:
        last = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise LabError(f"`{' '.join(args)}` failed ({result.returncode}): {' / '.join(last)}")
    return result


def run_showing(label: str, *args: str, **kwargs) -> float:
    """Run a long command (minutes), showing on a terminal its latest output line and the time so far;
    a failure raises LabError with its last words. Returns the seconds it took."""
    started, last = time.monotonic(), deque(maxlen=3)
    with Console(stderr=True).status(label) as status, \
            subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs) as process:
        for line in process.stdout:
            if line.strip():
                last.append(line.strip())
                status.update(f"{label}, {time.monotonic() - started:.0f} s: {line.strip()[:90]}")
    if process.returncode:
        raise LabError(f"`{' '.join(args)}` failed ({process.returncode}): {' / '.join(last)}")
    return time.monotonic() - started


def succeeds(*args: str) -> bool:
    return subprocess.run(list(args), capture_output=True).returncode == 0


def python() -> str:
    """The interpreter running thorfleet (background lab processes use the same one)."""
    return sys.executable


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
