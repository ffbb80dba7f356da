"""Operations of the gateway role: HAProxy's configuration, validated before it replaces the old one."""

from hashlib import sha256

from pyinfra.api.operation import operation
from pyinfra.context import host

from thorfleet.core.install import Commands
from thorfleet.core.secret_file import FileSha256, secret_file_commands
from thorfleet.roles.gateway.files import CONFIG, SOCKET, STATE_FILE

CANDIDATE = f"{CONFIG}.thorfleet-new"
# Before a reload the servers' runtime state (drained by a rollout, say) is saved, and read back by
# the new process (`load-server-state-from-file global`).
SAVE_STATE = (f"if [ -S {SOCKET} ]; then echo 'show servers state' | socat stdio unix-connect:{SOCKET} > {STATE_FILE}.new "
              f"&& mv {STATE_FILE}.new {STATE_FILE}; fi")


@operation()
def haproxy_config(content: str) -> Commands:
    """Put the rendered haproxy.cfg in place (it holds keys: root and the haproxy group read it).

    The new file is checked with `haproxy -c` before it replaces the old one, the old one is kept as
    a backup, HAProxy reloads (open connections finish on the old process), and if it will not, the
    backup is restored and the operation fails with HAProxy's reason."""
    if host.get_fact(FileSha256, path=CONFIG) == sha256(content.encode()).hexdigest():
        host.noop(f"{CONFIG} already routes the fleet as rendered")
        return
    yield from secret_file_commands(CANDIDATE, content, group="haproxy", mode="640")
    yield (f"reason=$(haproxy -c -q -f {CANDIDATE} 2>&1) || {{ rm -f {CANDIDATE}; "
           "echo \"thorfleet: the rendered haproxy.cfg does not validate, nothing was changed: $reason\" >&2; exit 1; }")
    yield (f'backup="{CONFIG}.thorfleet-backup-$(date +%Y%m%dT%H%M%S)" && {{ [ ! -e {CONFIG} ] || cp -a {CONFIG} "$backup"; }} && {SAVE_STATE}; '
           f"mv {CANDIDATE} {CONFIG} && "
           "if ! systemctl reload-or-restart haproxy; then "
           "reason=$(journalctl -u haproxy -n 5 --no-pager -o cat 2>/dev/null | tail -n 5); "
           f'cp -a "$backup" {CONFIG}; systemctl reset-failed haproxy; systemctl restart haproxy; '
           "echo \"thorfleet: HAProxy did not take the new configuration, the previous one is back: $reason\" >&2; exit 1; fi")
