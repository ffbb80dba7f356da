"""Builds made once for the fleet (`builds.share`): of the units a deploy reaches that need the same
build, the first in the inventory compiles it; the controller copies its installed tree off that unit
once (a checksummed archive in `builds.controller_cache`) and every other unit installs it from there.

    <controller_cache>/<engine>/<id>.tar.gz    the installed tree (bin/, commit, stamp.json)
    <controller_cache>/<engine>/<id>.expect    `SHA256 ARCH`, what the unit checks the archive against
    <controller_cache>/<engine>/<id>.json      sha256, the architecture it runs on, the unit it came from, bytes

The record is written last, so an archive without one (a copy cut short) is copied again.

With `model_store.fetch: fleet` the archives reach the units in the fleet's multicast session
(core/fanout.py) instead of one upload per unit; a unit takes its copy only when its sha256 is the
record's, and gets an upload over SSH otherwise.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent.lock  # type: ignore[import-untyped]  # pyinfra runs units in gevent greenlets
from pyinfra.api.command import QuoteString, StringCommand

from thorfleet.core import fanout
from thorfleet.core.fleet import FleetHost, FleetView
from thorfleet.roles.builds.files import ENGINES, build_id, engine_dir
from thorfleet.roles.builds.fleet import needed_builds


CACHE = "the controller's cache"  # where a unit copies a build from when no unit needs to compile it


def source_of(unit: FleetHost, fleet: FleetView, key: str, reached: set[str]) -> str:
    """Where `unit` gets its build of `key`: itself (it compiles: it shares nothing, or it is the
    builder), CACHE (the controller holds the build already), or the builder's name."""
    builds = unit.config.builds
    if not builds.share:
        return unit.name
    if CachedBuild(builds.controller_cache, key, build_id(getattr(builds, key))).record() is not None:
        return CACHE
    return builder_of(unit, fleet, key, reached)


def builder_of(unit: FleetHost, fleet: FleetView, key: str, reached: set[str]) -> str:
    """The unit that compiles `unit`'s build of `key` for the fleet: the first in the inventory, among
    those this deploy reaches, that shares builds and needs the same build; `unit` itself otherwise."""
    wanted = build_id(getattr(unit.config.builds, key))
    for host in fleet.hosts.values():
        if (host.name in reached and host.config.builds.share and key in needed_builds(host, fleet)
                and build_id(getattr(host.config.builds, key)) == wanted):
            return host.name
    return unit.name


@dataclass(frozen=True)
class CachedBuild:
    """The controller's copy of one build."""

    cache: str
    key: str
    build: str

    @property
    def archive(self) -> Path:
        return Path(self.cache) / ENGINES[self.key] / f"{self.build}.tar.gz"

    @property
    def expect_path(self) -> Path:
        return self.archive.with_name(f"{self.build}.expect")

    @property
    def record_path(self) -> Path:
        return self.archive.with_name(f"{self.build}.json")

    def record(self) -> dict[str, Any] | None:
        """What the copy is (sha256, arch, source, bytes), or None when there is no complete copy."""
        try:
            found = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and self.archive.is_file() else None


_copying: dict[Path, gevent.lock.Semaphore] = {}


def copy_off_builder(state: Any, host: Any, builder: str, directory: str, cached: CachedBuild) -> bool:
    """Run on the controller as the deploy reaches this step (a FunctionCommand; the builder's build is
    done by then, pyinfra running each operation on every unit before the next): the builder's installed
    tree archived, downloaded into the controller's cache and recorded, once however many units ask."""
    with _copying.setdefault(cached.archive, gevent.lock.Semaphore()):
        if cached.record() is not None:
            return True
        source = state.inventory.get_host(builder)
        remote = f"/tmp/thorfleet-build-{cached.build}.tar.gz"
        ok, output = source.run_shell_command(StringCommand(
            "tar", "-czf", QuoteString(remote), "-C", QuoteString(f"{directory}/builds"), QuoteString(cached.build),
            "&&", "uname", "-m"), _sudo=True)
        if not ok:
            host.log_styled(f"thorfleet: {builder}, which compiles {ENGINES[cached.key]} {cached.build} for the fleet, has no "
                            "such build to copy (its build failed or did not run: see its lines above); nothing was "
                            "changed here", fg="red")
            return False
        partial = cached.archive.with_suffix(".partial")
        try:
            cached.archive.parent.mkdir(parents=True, exist_ok=True)
            copied = source.get_file(remote, str(partial))
            if copied:
                digest = hashlib.file_digest(partial.open("rb"), "sha256").hexdigest()
                partial.replace(cached.archive)
                record = {"sha256": digest, "arch": output.stdout_lines[-1].strip(), "source": builder,
                          "bytes": cached.archive.stat().st_size}
                cached.expect_path.write_text(f"{digest} {record['arch']}\n")
                cached.record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")  # last: the copy is whole
        except OSError as err:  # the controller's cache: full, or not writable
            copied, why = False, f"{type(err).__name__}: {err}"
        else:
            why = "the download failed"
        finally:
            source.run_shell_command(StringCommand("rm", "-f", QuoteString(remote)), _sudo=True)
        if not copied:
            host.log_styled(f"thorfleet: the copy of {cached.build} off {builder} into {cached.archive.parent} failed ({why}); "
                            "nothing was changed here", fg="red")
            return False
        host.log(f"{ENGINES[cached.key]} {cached.build} copied off {builder}: {record['bytes'] / 1e6:.1f} MB")
    return True


def fanout_delivery(root: str, cache: str) -> fanout.Delivery:
    """The builds' fan-out: from the controller's cache of builds into a folder beside the engines' own."""
    return fanout.Delivery("builds", cache, f"{root}/.thorfleet-incoming")


def receive(state: Any, host: Any, lacking: list[tuple[str, str, str]], root: str, cache: str, store: fanout.Settings,
            address: str) -> bool:
    """Run on the controller for one unit (a FunctionCommand): each build it lacks (key, build id, builder)
    copied off its builder into the controller's cache if it is not there yet, then the archives received
    with every other unit's in one multicast session."""
    files = []
    for key, build, builder in lacking:
        cached = CachedBuild(cache, key, build)
        if cached.record() is not None or copy_off_builder(state, host, builder, engine_dir(root, key), cached):
            files.append(str(cached.archive.relative_to(cache)))
    if not files:  # the copy's own operation says why, and fails
        fanout.decline(state, "builds", host.name)
        return True
    return fanout.receive(state, host, store, fanout_delivery(root, cache), address, files)


def take_received(state: Any, host: Any, cached: CachedBuild, received: str, archive: str) -> bool:
    """Run on the controller for one unit (a FunctionCommand): the fan-out's copy of the archive when its
    sha256 is the one recorded when it was copied off the builder (marked, for the closing table),
    otherwise the controller's uploaded."""
    record = cached.record()
    if record is None:
        return False  # the copy off the builder failed: its own command said why
    taken = fanout.take_or_upload(host, cached.archive, record["sha256"], received, archive)
    if taken == "fan-out":
        host.run_shell_command(StringCommand("touch", QuoteString(f"{archive.rsplit('/sources/', 1)[0]}/logs/{cached.build}.fanout")),
                               _sudo=True)
    return taken is not None
