"""Operations of the monitoring role: Prometheus's configuration folder, checked by promtool before it
replaces the old one whole."""

import posixpath
import shlex
from hashlib import sha256

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.install import Commands
from thorfleet.core.paths import PROMETHEUS_DIR
from thorfleet.core.secret_file import secret_file_commands

CANDIDATE = f"{PROMETHEUS_DIR}.new"
BACKUP = f"{PROMETHEUS_DIR}.previous"


class FolderSha256(FactBase[dict[str, str]]):
    """{relative path: sha256} of every file under a folder (readable by root only), {} when missing."""

    def command(self, path: str) -> str:
        return f"cd {shlex.quote(path)} 2>/dev/null && find . -type f -exec sha256sum {{}} + || true"

    def process(self, output: list[str]) -> dict[str, str]:
        return {line[66:].removeprefix("./"): line[:64] for line in output if len(line) > 66}


@operation()
def prometheus_folder(files: dict[str, str]) -> Commands:
    """Put Prometheus's configuration folder in place (it holds keys: root and the prometheus group read it).

    The new folder is checked with `promtool check config` (which checks the rules too) before it
    replaces the old one, which is kept; Prometheus reloads, and if it will not, the old folder comes
    back and the operation fails with Prometheus's reason."""
    wanted = {path: sha256(content.encode()).hexdigest() for path, content in files.items()}
    if host.get_fact(FolderSha256, path=PROMETHEUS_DIR) == wanted:
        host.noop(f"{PROMETHEUS_DIR} already scrapes the fleet as rendered ({len(files)} files)")
        return
    yield StringCommand("rm", "-rf", CANDIDATE)
    for path, content in sorted(files.items()):
        yield from secret_file_commands(posixpath.join(CANDIDATE, path), content, group="prometheus", mode="640")
    yield StringCommand("chgrp", "-R", "prometheus", CANDIDATE, "&&", "find", CANDIDATE, "-type", "d", "-exec", "chmod", "750", "{}", "+")
    yield (f"reason=$(promtool check config {CANDIDATE}/prometheus.yml 2>&1) || {{ rm -rf {CANDIDATE}; "
           "echo \"thorfleet: the rendered Prometheus configuration does not check, nothing was changed: $reason\" >&2; exit 1; }")
    yield (f"rm -rf {BACKUP} && {{ [ ! -e {PROMETHEUS_DIR} ] || mv {PROMETHEUS_DIR} {BACKUP}; }} && mv {CANDIDATE} {PROMETHEUS_DIR} && "
           "if systemctl is-active -q prometheus && ! systemctl reload prometheus; then "
           "reason=$(journalctl -u prometheus -n 5 --no-pager -o cat 2>/dev/null | tail -n 5); "
           f"rm -rf {PROMETHEUS_DIR} && mv {BACKUP} {PROMETHEUS_DIR}; systemctl restart prometheus; "
           "echo \"thorfleet: Prometheus did not take the new configuration, the previous one is back: $reason\" >&2; exit 1; fi")
