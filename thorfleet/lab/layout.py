"""Where the lab keeps things, its names and its addresses: one home for each."""

import os
from dataclasses import dataclass
from pathlib import Path

# Everything downloaded or built by the lab lives under one folder: THORFLEET_CACHE, or .cache/ where
# the command runs (the project's folder, as for model_store.controller_cache).
CACHE = Path(os.environ.get("THORFLEET_CACHE", ".cache")).resolve()
LAB = CACHE / "lab"
DOWNLOADS = CACHE / "downloads"
# One compiler cache for every unit of every lab on this machine: builds run at the same paths on each
# unit, so a build on one unit, or in another clone's lab, makes the others fast. The machine's, as apt's
# and pip's caches are, and not under CACHE: a fresh clone's first build compiles from it.
CCACHE = Path("/var/cache/thorfleet-lab/ccache")
UNIT_CCACHE = "/var/cache/thorfleet-lab-ccache"
# The HTTP server's record of file transfers (one JSON line each), and its optional rate limit (bytes/s).
HTTP_TRANSFERS = LAB / "http-transfers.jsonl"
HTTP_RATE = LAB / "http-rate"

BRIDGE = "tflab0"
SUBNET_PREFIX = "10.231.0"  # a /24 of its own; units get .11, .12, ...
CONTROLLER_ADDRESS = f"{SUBNET_PREFIX}.1"
HTTP_PORT = 7080  # ModelScope endpoint, package index, files
GIT_PORT = 9418  # git daemon's own port
REGISTRY_PORT = 5001  # the lab's stand-in for Docker Hub (docker-registry), holding the stand-in images
REGISTRY = LAB / "registry"  # its storage, configuration and access log
LOGIN_USER = "nvidia"  # Thor's default account
DEFAULT_UNITS = 3
DISK_SIZE_GIB = 32  # sparse: a unit uses what it writes


@dataclass(frozen=True)
class UnitLayout:
    """One simulated unit: its name, address and the controller-side paths it owns."""

    index: int

    @property
    def name(self) -> str:
        return f"sim-{self.index:02d}"

    @property
    def address(self) -> str:
        return f"{SUBNET_PREFIX}.{10 + self.index}"

    @property
    def netns(self) -> str:
        return f"thorfleet-{self.name}"

    @property
    def veth(self) -> str:
        return f"tfl-{self.name}"  # controller side; the unit sees `host0`

    @property
    def folder(self) -> Path:
        return LAB / "units" / self.name

    @property
    def disk_image(self) -> Path:
        return self.folder / "disk.img"

    @property
    def disk(self) -> Path:
        return self.folder / "disk"  # the unit's own ext4 file system (loop-mounted)

    @property
    def rootfs(self) -> Path:
        return self.folder / "rootfs"  # overlay of the cached image and disk/upper

    @property
    def pidfile(self) -> Path:
        return self.folder / "supervisor.pid"

    @property
    def console_log(self) -> Path:
        return self.folder / "console.log"


def unit(name_or_index: str | int) -> UnitLayout:
    """The unit called `sim-NN` (or with index NN); ValueError for any other name."""
    if isinstance(name_or_index, int):
        return UnitLayout(name_or_index)
    prefix, _, number = name_or_index.partition("-")
    if prefix != "sim" or not number.isdigit() or not 1 <= int(number) <= 99:
        raise ValueError(f"{name_or_index!r} is not a lab unit name (sim-01 … sim-99)")
    return UnitLayout(int(number))


def existing_units() -> list[UnitLayout]:
    """Units whose folder exists, in order."""
    units_dir = LAB / "units"
    if not units_dir.is_dir():
        return []
    return sorted((unit(p.name) for p in units_dir.iterdir() if p.name.startswith("sim-")), key=lambda u: u.index)


SSH_DIR = LAB / "ssh"
SSH_KEY = SSH_DIR / "id_ed25519"
# The lab's engine API key (random, made at the first `lab up`): host_vars/sim-*.yml point the
# exposed engines' api_key at it, as a real lab points them at its own secret.
API_KEY = SSH_DIR / "engine-api-key"
KNOWN_HOSTS = SSH_DIR / "known_hosts"
