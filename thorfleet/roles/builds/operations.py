"""Operations of the builds role: build an engine when its stamp is new, switch to kept builds."""

import re
import shlex
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra.api.command import FileUploadCommand, FunctionCommand
from pyinfra.api.operation import operation
from pyinfra.context import host, state

from thorfleet.core import closing_table, fanout
from thorfleet.core.failure import failure
from thorfleet.core.install import Commands
from thorfleet.core.will import will
from thorfleet.roles.builds.config import BuildConfig
from thorfleet.roles.builds.facts import CudaToolkit, InstalledBuilds
from thorfleet.roles.builds.files import (ENGINES, archive_on_unit, build_id, build_script, copied_paths, engine_dir,
                                          install_script)
from thorfleet.roles.builds.shared import CachedBuild, copy_off_builder, fanout_delivery, receive, take_received


def switch_command(directory: str, build: str) -> str:
    """Point `current` at a build by renaming a new link over it: never a moment without one."""
    new, current = shlex.quote(f"{directory}/current.new"), shlex.quote(f"{directory}/current")
    return f"ln -sfn {shlex.quote('builds/' + build)} {new} && mv -T {new} {current}"


def cuda_problem(key: str, build: BuildConfig, cuda_home: str, toolkit: dict[str, Any] | None) -> str | None:
    """Why a CUDA build cannot start (None when it can): no nvcc under cuda_home, or an architecture
    it cannot target. Decided from facts, in seconds, before anything is fetched or compiled."""
    if toolkit is None:
        return (f"builds.{key} builds with CUDA, but there is no nvcc at {cuda_home}/bin/nvcc: install the CUDA "
                "toolkit (base.jetpack: [nvidia-jetpack], or [nvidia-cuda-dev] for the toolkit alone), or set "
                "builds.cuda_home to where it is. Nothing was built; current is unchanged")
    offered = toolkit["architectures"]  # virtual architectures: compute_90 stands for 90, 90a and 90f too
    for entry in build.cuda_architectures.split(";"):
        arch = re.match(r"\d+", entry)
        if arch and offered and f"compute_{arch.group(0)}" not in offered:
            return (f"builds.{key}.cuda_architectures: nvcc ({toolkit['version']}) cannot target {entry} (it offers "
                    f"{', '.join(a.removeprefix('compute_') for a in offered)}): choose one of those, or install a CUDA "
                    "toolkit that knows it. Nothing was built; current is unchanged")
    return None


def is_kept(build: BuildConfig, directory: str) -> bool:
    """The build is current, or kept from before (switching back to it needs no archive)."""
    wanted, found = build_id(build), host.get_fact(InstalledBuilds, engine_dir=directory)
    return found["current"] == wanted or wanted in found["builds"]


def already_there(key: str, build: BuildConfig, directory: str) -> list[str] | None:
    """Nothing when the build is current, the switch when it is kept from before; None when it is not there."""
    wanted = build_id(build)
    found = host.get_fact(InstalledBuilds, engine_dir=directory)
    if found["current"] == wanted:
        host.noop(f"{ENGINES[key]} {build.ref} is current ({wanted})")
        return []
    if wanted in found["builds"]:
        will(f"switch {ENGINES[key]} back to its kept build {wanted}")
        return [switch_command(directory, wanted)]
    return None


@operation()
def engine_build(key: str, build: BuildConfig, root: str, keep: int, cuda_home: str) -> Commands:
    """The configured build of one engine is current: already (nothing runs), kept from before
    (switch back, no rebuild), or new (CUDA toolkit checked, fetch, configure, build, check, install,
    switch)."""
    directory = engine_dir(root, key)
    wanted = build_id(build)
    there = already_there(key, build, directory)
    if there is not None:
        yield from there
        return
    if build.cuda:
        toolkit = host.get_fact(CudaToolkit, cuda_home=cuda_home)
        problem = cuda_problem(key, build, cuda_home, toolkit)
        if problem or toolkit is None:
            yield failure(problem or f"{ENGINES[key]}: no CUDA toolkit at {cuda_home}")
            return
        host.log(f"{ENGINES[key]}: CUDA toolkit at {cuda_home} ({toolkit['version']})")
    closing_table.build_planned(state, host.name, root, ENGINES[key], wanted)
    script = f"{directory}/logs/{wanted}.sh"
    # A build takes minutes (a cold CUDA build on a Thor, or a CPU build on 2 cores): say where to watch it.
    will(f"build {ENGINES[key]} {build.ref} ({wanted}): minutes; follow it on the unit with "
         f"`tail -f {directory}/logs/{wanted}.log`")
    yield f"mkdir -p {shlex.quote(directory + '/logs')} {shlex.quote(directory + '/sources')}"
    if build.source_archive:
        local = Path(build.source_archive).expanduser()
        if not local.is_file():
            yield failure(f"builds.{key}.source_archive: {build.source_archive} is not a file on the controller")
            return
        archive = archive_on_unit(root, key, build)
        yield FileUploadCommand(str(local), archive, remote_temp_filename=host.get_temp_filename(archive))
    yield FileUploadCommand(StringIO(build_script(root, key, build, keep, cuda_home)), script,
                            remote_temp_filename=host.get_temp_filename(script))
    yield f"bash {shlex.quote(script)}"


@operation()
def fanned_out(copies: dict[str, tuple[BuildConfig, str]], root: str, cache: str, store: fanout.Settings,
               address: str) -> Commands:
    """The shared builds this unit lacks (engine key → its build and builder), received with every other
    unit's in one multicast session from the controller (core/fanout.py); the unit declines when it lacks none."""
    lacking = [(key, build_id(build), builder) for key, (build, builder) in copies.items()
               if not is_kept(build, engine_dir(root, key))]
    if not lacking:
        fanout.decline(state, "builds", host.name)
        host.noop(f"{len(copies)} shared builds current or kept here: nothing to receive")
        return
    will(f"receive {', '.join(f'{ENGINES[key]} {build}' for key, build, _ in lacking)} in the fleet's multicast "
         "session from the controller")
    yield FunctionCommand(receive, (lacking, root, cache, store, address), {})


@operation()
def engine_build_copied(key: str, build: BuildConfig, root: str, keep: int, builder: str, cache: str,
                        fanned: bool = False) -> Commands:
    """The configured build of one engine is current, compiled once for the fleet on `builder` (or found in
    the controller's cache): copied off the builder into the controller's cache once, uploaded (or, `fanned`,
    taken from the fan-out when it arrived whole), checked (sha256, architecture, each program's --help) and
    switched to as a build of the unit's own is."""
    directory = engine_dir(root, key)
    there = already_there(key, build, directory)
    if there is not None:
        yield from there
        return
    cached = CachedBuild(cache, key, build_id(build))
    record = cached.record()
    source = f"the controller's cache (built on {record['source']})" if record else f"{builder}, which builds it for the fleet"
    will(f"copy {ENGINES[key]} {build.ref} ({cached.build}) from {source}"
         + (f": {record['bytes'] / 1e6:.0f} MB" if record else ""))
    closing_table.build_planned(state, host.name, root, ENGINES[key], cached.build)
    if record is None:
        yield FunctionCommand(copy_off_builder, (builder, directory, cached), {})
    archive, expect, script = copied_paths(root, key, build)
    yield f"mkdir -p {shlex.quote(directory + '/logs')} {shlex.quote(directory + '/sources')}"
    if fanned:
        received = f"{fanout_delivery(root, cache).into}/{cached.archive.relative_to(cache)}"
        yield FunctionCommand(take_received, (cached, received, archive), {})
    else:
        yield FileUploadCommand(str(cached.archive), archive, remote_temp_filename=host.get_temp_filename(archive))
    yield FileUploadCommand(str(cached.expect_path), expect, remote_temp_filename=host.get_temp_filename(expect))
    yield FileUploadCommand(StringIO(install_script(root, key, build, keep, record["source"] if record else builder)), script,
                            remote_temp_filename=host.get_temp_filename(script))
    yield f"bash {shlex.quote(script)}"
