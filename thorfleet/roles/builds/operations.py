"""Operations of the builds role: build an engine when its stamp is new, switch to kept builds."""

from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.command import FileUploadCommand

from thorfleet.roles.builds.facts import InstalledBuilds
from thorfleet.roles.builds.files import ENGINES, archive_on_unit, build_id, build_script, engine_dir
from thorfleet.core.failure import failure


def switch_command(directory: str, build: str) -> str:
    """Point `current` at a build by renaming a new link over it: never a moment without one."""
    return f'ln -sfn "builds/{build}" {directory}/current.new && mv -T {directory}/current.new {directory}/current'


@operation()
def engine_build(key: str, build, root: str, keep: int):
    """The configured build of one engine is current: already (nothing runs), kept from before
    (switch back, no rebuild), or new (fetch, configure, build, check, install, switch)."""
    directory = engine_dir(root, key)
    wanted = build_id(build)
    found = host.get_fact(InstalledBuilds, engine_dir=directory)
    if found["current"] == wanted:
        host.noop(f"{ENGINES[key]} {build.ref} is current ({wanted})")
        return
    if wanted in found["builds"]:
        yield switch_command(directory, wanted)
        return
    script = f"{directory}/logs/{wanted}.sh"
    yield f"mkdir -p {directory}/logs {directory}/sources"
    if build.source_archive:
        local = Path(build.source_archive).expanduser()
        if not local.is_file():
            yield failure(f"builds.{key}.source_archive: {build.source_archive} is not a file on the controller")
            return
        archive = archive_on_unit(root, key, build)
        yield FileUploadCommand(str(local), archive, remote_temp_filename=host.get_temp_filename(archive))
    yield FileUploadCommand(StringIO(build_script(root, key, build, keep)), script,
                            remote_temp_filename=host.get_temp_filename(script))
    # A build takes minutes (a cold CUDA build on a Thor, or a CPU build on 2 cores): say where to watch it.
    host.log_styled(f"building {ENGINES[key]} {build.ref} ({wanted}): minutes; follow it on the unit with "
                    f"`tail -f {directory}/logs/{wanted}.log`", fg="cyan")
    yield f"bash {script}"
