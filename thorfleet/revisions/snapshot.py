"""What a revision holds, worked out on the controller: the unit's fingerprint (its rendered files,
secrets shown as where they come from, never their values) and the project's configuration as a
deterministic archive (inventory, group_vars, host_vars, the project's roles and templates; never a
file a secret is read from)."""

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from thorfleet.core.fleet import FleetHost
from thorfleet.fleet import Fleet
from thorfleet.host_files import host_files

PROJECT_PARTS = ("inventory", "group_vars", "host_vars", "roles", "templates")
SKIPPED_PARTS = {"__pycache__", ".thorfleet"}
LARGEST_ARCHIVE = 8 * 1024 * 1024  # a project's YAML is kilobytes: more means something else is in there


@dataclass(frozen=True)
class Snapshot:
    fingerprint: str  # sha256 of the unit's rendered files
    files: dict[str, str]  # each rendered file -> its sha256
    inventory: str  # the inventory's path inside the archive
    archive: bytes  # tar.gz of the project's configuration


def snapshot(host: FleetHost, fleet: Fleet) -> Snapshot:
    files = {f.dest: _sha256(f"{f.mode}\n{f.content}") for f in sorted(host_files(host, fleet), key=lambda f: f.dest)}
    fingerprint = _sha256(json.dumps(files, sort_keys=True))
    inventory = fleet.inventory.resolve().relative_to(fleet.config_dir.resolve()).as_posix()
    return Snapshot(fingerprint, files, inventory, project_archive(fleet.config_dir.resolve(), _secret_files(fleet)))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _secret_files(fleet: Fleet) -> frozenset[Path]:
    return frozenset(Path(source.file).expanduser().resolve() for host in fleet.hosts.values()
                     for _, source in host.config.secrets() if source.file)


@cache
def project_archive(root: Path, secret_files: frozenset[Path]) -> bytes:
    """The project's configuration as tar.gz: the same bytes for the same files (sorted, no times or owners)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(p for part in PROJECT_PARTS for p in (root / part).rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            if SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc" or path.resolve() in secret_files:
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(relative.as_posix())
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    archive = gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
    if len(archive) > LARGEST_ARCHIVE:
        raise ValueError(f"the project's configuration ({', '.join(PROJECT_PARTS)} under {root}) is {len(archive) >> 20} MiB "
                         "compressed: keep models, builds and other large files out of those folders")
    return archive


def extract(archive: bytes, into: Path) -> None:
    """A revision's configuration unpacked (tarfile's `data` filter: no links out, no absolute paths)."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(into, filter="data")
