"""Operations of the docker role: merge daemon.json safely."""

import json
from io import StringIO

from pyinfra import host
from pyinfra.api import OperationError, operation
from pyinfra.api.command import FileUploadCommand

from roles.docker.facts import DaemonJson
from roles.docker.files import DAEMON_JSON, merge_daemon_json

CANDIDATE = f"{DAEMON_JSON}.thorfleet-new"


@operation()
def daemon_json(owned: dict):
    """Merge thorfleet's keys into daemon.json, keeping every other key.

    The new file is validated with `dockerd --validate` before it replaces the old one, the old one
    is kept as a timestamped backup, Docker is restarted only when the file changed, and if Docker
    then fails to start the backup is restored, Docker restarted, and the operation fails.
    """
    current = host.get_fact(DaemonJson)
    if current["error"]:
        raise OperationError(
            f"{DAEMON_JSON} is not valid JSON ({current['error']}); thorfleet will not overwrite it blindly: "
            "fix or remove it, then deploy again"
        )
    merged = merge_daemon_json(current["settings"], owned)
    if current["exists"] and merged == current["settings"]:
        host.noop(f"{DAEMON_JSON} already has thorfleet's settings")
        return
    yield from install_daemon_json(merged, had_file=current["exists"])


def install_daemon_json(settings: dict, had_file: bool):
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


def restart_or_restore(restore: str = f'cp -a "$backup" {DAEMON_JSON}') -> str:
    """Restart Docker; when it will not come up with the new file, put the old one back and fail with the reason."""
    return (
        "if ! systemctl restart docker; then "
        "reason=$(journalctl -u docker -n 5 --no-pager -o cat 2>/dev/null | tail -n 5); "
        f"{restore}; systemctl reset-failed docker; systemctl restart docker; "
        "echo \"thorfleet: Docker did not start with the new daemon.json, the previous one is back: $reason\" >&2; "
        "exit 1; fi"
    )
