"""Operations of the docker role: daemon.json merged safely, the docker group, the runtime check, images."""

import json
import shlex
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra.api.command import FileUploadCommand
from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.accounts import Accounts
from thorfleet.core.failure import failure
from thorfleet.core.install import Commands
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


@operation()
def images(pull: list[str], archives: dict[str, str]) -> Commands:
    """Images present: loaded from archives pushed from the controller (units without a registry),
    else pulled, retrying with a growing pause (large images over a flaky link)."""
    present = set(host.get_fact(DockerImages))
    wanted = {image_ref(i): i for i in [*archives, *pull]}
    missing = [ref for ref in wanted if ref not in present]
    if not missing:
        host.noop(f"all {len(wanted)} images are present")
        return
    loaded: set[str] = set()
    for ref in missing:
        archive = archives.get(wanted[ref])
        if archive is None or archive in loaded:
            continue
        local = Path(archive).expanduser()
        if not local.is_file():
            yield failure(f"docker.image_archives[{wanted[ref]!r}]: {archive} is not a file on the controller")
            return
        remote = f"/var/tmp/thorfleet-{local.name}"
        yield FileUploadCommand(str(local), remote, remote_temp_filename=host.get_temp_filename(remote))
        yield f"docker load -i {shlex.quote(remote)}; status=$?; rm -f {shlex.quote(remote)}; exit $status"
        loaded.add(archive)
    for ref in missing:
        if wanted[ref] not in archives:
            yield (
                f"image={shlex.quote(wanted[ref])}; for attempt in $(seq {PULL_ATTEMPTS}); do docker pull \"$image\" && break; "
                f'[ "$attempt" = {PULL_ATTEMPTS} ] && {{ echo "thorfleet: docker pull $image failed {PULL_ATTEMPTS} times" >&2; exit 1; }}; '
                'sleep $((attempt * 15)); done'
            )
