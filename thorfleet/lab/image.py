"""The lab's cached Debian trixie image: what every unit boots from (read-only, under an overlay).

Ubuntu 24.04 (Thor's OS) cannot be bootstrapped here, so Debian trixie stands in for it (its Docker 26 has `dockerd --validate`, as JetPack 7's does). The
image carries sshd, Python, Docker and every package the deploy installs with apt, so that the
deploy's package steps converge on units that have no route to the outside.
"""

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

from thorfleet.lab import layout
from thorfleet.lab.system import LabError, run, run_showing
from thorfleet.roles import ROLES
from thorfleet.roles.base.config import BaseConfig

SUITE = "trixie"
IMAGE = layout.LAB / "image"
ROOTFS = IMAGE / "rootfs"
RECIPE = IMAGE / "recipe.json"
DEB_CACHE = layout.DOWNLOADS / "debs"

# A booted systemd host reachable over SSH, with Docker (the lab's own needs).
SYSTEM_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iputils-ping", "procps",
    "python3", "sudo", "ca-certificates", "docker.io", "docker-cli", "less", "kmod",
    "aria2", "uftp",  # the transports benchmarks/fanout.py compares (issue 29)
]


def packages() -> list[str]:
    """The lab's own packages plus everything the roles install by default."""
    return sorted(set(SYSTEM_PACKAGES) | set(BaseConfig().apt_packages) | {p for role in ROLES for p in role.packages})


def recipe() -> dict:
    return {"suite": SUITE, "packages": packages(), "version": 4}


def mirror() -> str:
    """The Debian mirror the controller itself uses (THORFLEET_LAB_MIRROR overrides it)."""
    if os.environ.get("THORFLEET_LAB_MIRROR"):
        return os.environ["THORFLEET_LAB_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        text = path.read_text() if path.is_file() else ""
        for uri in re.findall(r"^URIs:\s*(\S+)", text, re.M) + re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", text, re.M):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    raise LabError("no Debian mirror found in /etc/apt/sources.list*: set THORFLEET_LAB_MIRROR to one")


def is_current() -> bool:
    return RECIPE.is_file() and json.loads(RECIPE.read_text()) == recipe()


def recipe_id() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:12]


def build(log=print) -> bool:
    """Build the image unless the cached one matches the recipe; True when it was (re)built."""
    if is_current():
        return False
    partial = IMAGE / "rootfs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    log(f"bootstrapping Debian {SUITE} into {partial} (a few minutes; the packages are cached in {DEB_CACHE})")
    took = run_showing("bootstrapping Debian", "debootstrap", "--variant=minbase", f"--cache-dir={DEB_CACHE}",
                       "--include=systemd,systemd-sysv,dbus,python3,ca-certificates", SUITE, str(partial), mirror())
    log(f"Debian bootstrapped in {took:.0f} s; installing {len(packages())} packages into the image")
    _in_image(partial, "apt-get", "update", "-qq")
    took = _in_image(partial, "apt-get", "install", "-y", "--no-install-recommends", *packages(), showing="installing packages")
    log(f"packages installed in {took:.0f} s")
    _configure(partial)
    shutil.rmtree(ROOTFS, ignore_errors=True)
    partial.rename(ROOTFS)
    RECIPE.write_text(json.dumps(recipe(), indent=2))
    return True


def _in_image(root: Path, *command: str, showing: str | None = None) -> float:
    """Run a command inside the image being built, with the controller's network and the deb cache;
    `showing` labels a long one whose progress is shown. Returns the seconds it took."""
    nspawn = ("systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-D", str(root),
              "--resolv-conf=copy-host", f"--bind={DEB_CACHE}:/var/cache/apt/archives",
              "--setenv=DEBIAN_FRONTEND=noninteractive", *command)
    if showing:
        return run_showing(showing, *nspawn)
    started = time.monotonic()
    run(*nspawn)
    return time.monotonic() - started


def _configure(root: Path) -> None:
    """The login user, sudo, and what a booted container needs; host keys are made per unit."""
    _in_image(root, "useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", layout.LOGIN_USER)
    (root / "etc/sudoers.d/90-lab-login").write_text(f"{layout.LOGIN_USER} ALL=(ALL) NOPASSWD:ALL\n")
    (root / "etc/sudoers.d/90-lab-login").chmod(0o440)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # Services that cannot work inside a container, or would reach out of the lab; and the open daemons
    # Debian's uftp and docker-registry packages start on every address (thorfleet runs its own, as a deploy does).
    for unit in ("systemd-timesyncd.service", "apt-daily.timer", "apt-daily-upgrade.timer", "getty@tty1.service", "uftp.service",
                 "docker-registry.service"):
        (root / "etc/systemd/system" / unit).unlink(missing_ok=True)
        (root / "etc/systemd/system" / unit).symlink_to("/dev/null")
    (root / "etc/apt/apt.conf.d/90-lab-no-recommends").write_text('APT::Install-Recommends "false";\n')
    # Docker 26 fails to start a bridged container when it cannot switch IPv6 off on the container's
    # interface, which it cannot inside an nspawn unit; the variable is Docker's own way out.
    dropin = root / "etc/systemd/system/docker.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "lab-ipv6.conf").write_text("[Service]\nEnvironment=DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1\n")
