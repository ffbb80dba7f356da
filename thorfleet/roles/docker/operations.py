"""Operations of the docker role: daemon.json merged safely, the docker group, the runtime check, images."""

import hashlib
import json
import shlex
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra.api.command import FileUploadCommand, FunctionCommand
from pyinfra.api.operation import operation
from pyinfra.context import host, state

from thorfleet.core import closing_table, fanout
from thorfleet.core.accounts import Accounts
from thorfleet.core.failure import failure
from thorfleet.core.install import Commands
from thorfleet.core.paths import IMAGE_ARCHIVES_INCOMING
from thorfleet.core.will import will
from thorfleet.roles.docker.facts import DaemonJson, DockerDefaultRuntime, DockerImages
from thorfleet.roles.docker.files import DAEMON_JSON, merge_daemon_json

CANDIDATE = f"{DAEMON_JSON}.thorfleet-new"


@operation()
def daemon_json(owned: dict[str, Any]) -> Commands:
    """Merge thorfleet's keys into daemon.json, keeping every other key.

    The new file is validated with `dockerd --validate` before it replaces the old one, the old one
    is kept as a timestamped backup, Docker is restarted only when the file changed, and if Docker
    then fails to start the backup is restored, Docker restarted, and the operation fails.
    """
    current = host.get_fact(DaemonJson)
    if current["error"]:
        yield failure(
            f"{DAEMON_JSON} is not valid JSON ({current['error']}); thorfleet will not overwrite it blindly: "
            "fix or remove it, then deploy again"
        )
        return
    merged = merge_daemon_json(current["settings"], owned)
    if current["exists"] and merged == current["settings"]:
        host.noop(f"{DAEMON_JSON} already has thorfleet's settings")
        return
    yield from install_daemon_json(merged, had_file=current["exists"])


def install_daemon_json(settings: dict[str, Any], had_file: bool) -> Commands:
    content = json.dumps(settings, indent=2, sort_keys=True) + "\n"
    yield (
        "command -v dockerd >/dev/null || { echo 'thorfleet: dockerd is not installed on this unit (JetPack ships Docker)' >&2; exit 1; }; "
        f"install -d -m 755 {DAEMON_JSON.rsplit('/', 1)[0]}"
    )
    yield FileUploadCommand(StringIO(content), CANDIDATE, remote_temp_filename=host.get_temp_filename(CANDIDATE))
    yield (
        f"dockerd --validate --config-file {CANDIDATE} "
        f"|| {{ rm -f {CANDIDATE}; echo 'thorfleet: the merged daemon.json does not validate; nothing was changed' >&2; exit 1; }}"
    )
    backup = f'{DAEMON_JSON}.thorfleet-backup-$(date +%Y%m%dT%H%M%S)'
    if had_file:
        yield f'backup="{backup}" && cp -a {DAEMON_JSON} "$backup" && mv {CANDIDATE} {DAEMON_JSON} && {restart_or_restore()}'
    else:
        yield f"mv {CANDIDATE} {DAEMON_JSON} && {restart_or_restore(restore=f'rm -f {DAEMON_JSON}')}"
    if "default-runtime" in settings:
        yield runtime_check(settings["default-runtime"])


def restart_or_restore(restore: str = f'cp -a "$backup" {DAEMON_JSON}') -> str:
    """Restart Docker; when it will not come up with the new file, put the old one back and fail with the reason."""
    return (
        "if ! systemctl restart docker; then "
        "reason=$(journalctl -u docker -n 5 --no-pager -o cat 2>/dev/null | tail -n 5); "
        f"{restore}; systemctl reset-failed docker; systemctl restart docker; "
        "echo \"thorfleet: Docker did not start with the new daemon.json, the previous one is back: $reason\" >&2; "
        "exit 1; fi"
    )


@operation()
def docker_group(users: list[str]) -> Commands:
    """Put users in the `docker` group (they then run docker without sudo, from their next login)."""
    known = host.get_fact(Accounts, users=users)["users"]
    unknown = [u for u in users if known.get(u) is None]
    if unknown:
        yield failure(f"user {unknown[0]!r} (docker.users) does not exist on this unit")
        return
    missing = [u for u in users if "docker" not in known[u]]
    if not missing:
        host.noop(f"{', '.join(users)} in the docker group")
        return
    for user in missing:
        yield f"usermod -aG docker {shlex.quote(user)}"


@operation()
def default_runtime(expected: str) -> Commands:
    """Docker reports the configured default runtime; restart it once if it still runs an older config."""
    if host.get_fact(DockerDefaultRuntime) == expected:
        host.noop(f"docker info reports the default runtime {expected}")
        return
    yield f"systemctl restart docker && {runtime_check(expected)}"


def runtime_check(expected: str) -> str:
    return (
        f"expected={shlex.quote(expected)}; runtime=$(docker info --format '{{{{.DefaultRuntime}}}}') && "
        '{ [ "$runtime" = "$expected" ] || { echo "thorfleet: docker info reports the default runtime $runtime, '
        f'not $expected: check {DAEMON_JSON}" >&2; exit 1; }}; }}'
    )


def image_ref(image: str) -> str:
    """An image as `docker image ls` names it: Docker Hub's prefixes dropped, `:latest` when untagged."""
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if image.startswith(prefix):
            image = image[len(prefix):]
            break
    if "@" not in image and ":" not in image.rsplit("/", 1)[-1]:
        image += ":latest"
    return image


PULL_ATTEMPTS = 4


# With model_store.fetch: fleet, image archives reach the units in the fleet's multicast session; files
# are named by their path on the controller.
ARCHIVES_DELIVERY = fanout.Delivery("images", "/", IMAGE_ARCHIVES_INCOMING)


def missing_images(pull: list[str], archives: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The images wanted (by normalised reference) and the references of those not on the unit."""
    present = set(host.get_fact(DockerImages))
    wanted = {image_ref(i): i for i in [*archives, *pull]}
    return wanted, [ref for ref in wanted if ref not in present]


def archives_to_load(wanted: dict[str, str], missing: list[str], archives: dict[str, str]) -> list[str]:
    """The archives holding missing images, each once (one archive may hold several)."""
    return list(dict.fromkeys(archives[wanted[ref]] for ref in missing if wanted[ref] in archives))


@operation()
def archives_fanned_out(pull: list[str], archives: dict[str, str], store: fanout.Settings, address: str) -> Commands:
    """The image archives this unit needs (those holding images it lacks), received with every other
    unit's in one multicast session from the controller (core/fanout.py); the unit declines when it needs none."""
    wanted, missing = missing_images(pull, archives)
    needed = [Path(a).expanduser().resolve() for a in archives_to_load(wanted, missing, archives)]
    if not needed or not all(path.is_file() for path in needed):  # a missing archive: the images operation says so
        fanout.decline(state, "images", host.name)
        host.noop(f"all {len(archives)} archived images are present: nothing to receive" if not needed
                  else "an image archive is missing on the controller: the images operation below says which")
        return
    size = sum(path.stat().st_size for path in needed)
    will(f"receive {len(needed)} image archives ({size / 1e6:.0f} MB) in the fleet's multicast session from the controller")
    yield FunctionCommand(fanout.receive, (store, ARCHIVES_DELIVERY, address, [str(p).lstrip("/") for p in needed]), {})


_sha256: dict[tuple[Path, int, int], str] = {}


def take_archive(state: Any, host: Any, local: Path, remote: str, images: list[str]) -> bool:
    """Run on the controller for one unit (a FunctionCommand): the fan-out's copy of an archive when its
    sha256 is the controller's (hashed once per deploy), else the controller's uploaded; the closing
    table learns which, for the `images` the archive brings."""
    stat = local.stat()
    key = (local, stat.st_mtime_ns, stat.st_size)
    if key not in _sha256:
        with local.open("rb") as data:
            _sha256[key] = hashlib.file_digest(data, "sha256").hexdigest()
    received = f"{ARCHIVES_DELIVERY.into}/{str(local).lstrip('/')}"
    taken = fanout.take_or_upload(host, local, _sha256[key], received, remote)
    for image in images:
        closing_table.image_planned(state, host.name, image, f"archive ({taken})")
    return taken is not None


@operation()
def images(pull: list[str], archives: dict[str, str], fanned: bool = False, registry: str = "a registry") -> Commands:
    """Images present: loaded from archives from the controller (units without a registry; `fanned`: taken
    from the fan-out when they arrived whole, uploaded otherwise), else pulled from `registry` (as the
    closing table names it), retrying with a growing pause (large images over a flaky link)."""
    wanted, missing = missing_images(pull, archives)
    if not missing:
        host.noop(f"all {len(wanted)} images are present")
        return
    for ref in missing:
        closing_table.image_planned(state, host.name, ref, "archive (upload)" if wanted[ref] in archives else f"pulled ({registry})")
    for archive in archives_to_load(wanted, missing, archives):
        local = Path(archive).expanduser()
        if not local.is_file():
            image = next(i for i, a in archives.items() if a == archive)
            yield failure(f"docker.image_archives[{image!r}]: {archive} is not a file on the controller")
            return
        remote = f"/var/tmp/thorfleet-{local.name}"
        if fanned:
            brought = [ref for ref in missing if archives.get(wanted[ref]) == archive]
            yield FunctionCommand(take_archive, (local.resolve(), remote, brought), {})
        else:
            yield FileUploadCommand(str(local), remote, remote_temp_filename=host.get_temp_filename(remote))
        yield f"docker load -i {shlex.quote(remote)}; status=$?; rm -f {shlex.quote(remote)}; exit $status"
    for ref in missing:
        if wanted[ref] not in archives:
            yield (
                f"image={shlex.quote(wanted[ref])}; for attempt in $(seq {PULL_ATTEMPTS}); do docker pull \"$image\" && break; "
                f'[ "$attempt" = {PULL_ATTEMPTS} ] && {{ echo "thorfleet: docker pull $image failed {PULL_ATTEMPTS} times" >&2; exit 1; }}; '
                'sleep $((attempt * 15)); done'
            )
